"""The reconciliation after each scenario: the reliability work's
`ticketing_app.services.audit.audit(rt, event_id=None)` (no seat sold twice, no sold seat
without a confirmed order, every outbox row delivered).

Until that module exists the result says "not available": it is never reported as passed.
Before auditing, the platform is given time to drain (payments settled, outbox published and
processed), since "every outbox row delivered" is about the end state, not the middle of a run.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from ticketing_app.bootstrap import Runtime
from ticketing_app.db.models import Order, OutboxEvent, Payment, ProcessedEvent

AUDIT_MODULE = "ticketing_app.services.audit"
PROJECTION_CONSUMER = "sales-projection"


@dataclass
class Reconciliation:
    available: bool
    ok: bool = False
    discrepancies: list[str] = field(default_factory=list)
    drained: bool = True
    drain_detail: str = ""
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"available": self.available, "ok": self.ok if self.available else None,
                "discrepancies": self.discrepancies[:50],
                "discrepancy_count": len(self.discrepancies), "drained": self.drained,
                "drain_detail": self.drain_detail, "reason": self.reason}

    def summary(self) -> str:
        if not self.available:
            return f"not available ({self.reason})"
        if self.ok:
            return "ok"
        return f"{len(self.discrepancies)} discrepancies: " + "; ".join(self.discrepancies[:3])


async def backlog(rt: Runtime) -> tuple[int, int, int, int]:
    """(pending payments, unpaid orders past their payment deadline that the expiry job has not
    cancelled yet, outbox rows not yet sent, rows the projection has not processed)."""
    async with rt.db.read_sessions() as s:
        overdue = (await s.execute(select(func.count()).select_from(Order).where(
            col(Order.status) == "CREATED",
            col(Order.payment_deadline) < datetime.now(UTC)))).scalar_one()
        pending_pay = (await s.execute(select(func.count()).select_from(Payment).where(
            col(Payment.status) == "PENDING"))).scalar_one()
        unsent = (await s.execute(select(func.count()).select_from(OutboxEvent).where(
            col(OutboxEvent.status) == "PENDING"))).scalar_one()
        done = select(col(ProcessedEvent.event_uuid)).where(
            col(ProcessedEvent.consumer) == PROJECTION_CONSUMER)
        unprocessed = (await s.execute(select(func.count()).select_from(OutboxEvent).where(
            col(OutboxEvent.event_uuid).not_in(done)))).scalar_one()
    return int(pending_pay), int(overdue), int(unsent), int(unprocessed)


async def drain(rt: Runtime, timeout_s: float = 60.0) -> tuple[bool, str]:
    deadline = time.monotonic() + timeout_s
    t0 = time.monotonic()
    while True:
        pay, overdue, unsent, unprocessed = await backlog(rt)
        if pay == 0 and overdue == 0 and unsent == 0 and unprocessed == 0:
            return True, f"drained in {time.monotonic() - t0:.1f} s"
        if time.monotonic() > deadline:
            return False, (f"after {timeout_s:.0f} s: {pay} payments pending, {overdue} orders "
                           f"past their payment deadline not yet expired, {unsent} outbox rows "
                           f"unsent, {unprocessed} not processed by the projection")
        await asyncio.sleep(0.5)


def audit_function() -> Any:
    try:
        module = importlib.import_module(AUDIT_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name == AUDIT_MODULE:
            return None
        raise
    return getattr(module, "audit", None)


async def reconcile(rt: Runtime, event_id: int | None = None,
                    drain_timeout_s: float = 180.0) -> Reconciliation:
    drained, detail = await drain(rt, drain_timeout_s)
    audit = audit_function()
    if audit is None:
        return Reconciliation(available=False, drained=drained, drain_detail=detail,
                              reason=f"{AUDIT_MODULE} is not on this branch yet")
    report = await audit(rt, event_id=event_id)
    return Reconciliation(available=True, ok=bool(report.ok),
                          discrepancies=[str(d) for d in report.discrepancies],
                          drained=drained, drain_detail=detail)
