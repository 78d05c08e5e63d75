"""Reconciliation: compare the database, Redis (the hold store) and the Kafka-fed projection and
report every way they disagree.

The database is read first, in one snapshot, then Redis: every write path changes Redis before
the database (a sale) or the database before Redis (a refund, a cancellation), so reading in
this order sees in-flight work only as "Redis ahead of the database", which the checks below
recognise (a payment still PENDING). Whatever still looks wrong is looked at again after
`settle_s`; only what persists is reported, so a live system is not flagged for work that
finishes a few milliseconds later. Grace periods cover slower in-flight work (an order inside
its payment window, a payment still being retried, an outbox row on its way to Kafka).

Used by `ticketing audit`, by the fault-injection tests and by the benchmarks.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import func, select, text
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ticketing_app.db.engine import Database
from ticketing_app.db.models import (
    Event,
    Order,
    OrderItem,
    OutboxEvent,
    Payment,
    ProcessedEvent,
    SalesProjection,
    Seat,
)
from ticketing_app.domain.orders import OrderStatus, PaymentStatus
from ticketing_app.holds.answers import Snapshot
from ticketing_app.holds.store import HoldStore
from ticketing_app.services.audit_checks import (
    CONFIRMED_NOT_SOLD,
    HOLD_ON_SOLD_SEAT,
    KINDS,
    ORDER_STUCK,
    OUTBOX_UNDELIVERED,
    OUTBOX_UNPROCESSED,
    PAYMENT_STUCK,
    PROJECTION_CONSUMER,
    PROJECTION_MISMATCH,
    REDIS_MISSING_SALE,
    REDIS_SOLD_NOT_IN_DB,
    SEAT_SOLD_TWICE,
    SOLD_WITHOUT_ORDER,
    DbView,
    Discrepancy,
    Grace,
    check_outbox,
    check_projection,
    check_redis,
    check_seats,
    check_stuck,
)

__all__ = [
    "CONFIRMED_NOT_SOLD", "HOLD_ON_SOLD_SEAT", "KINDS", "ORDER_STUCK", "OUTBOX_UNDELIVERED",
    "OUTBOX_UNPROCESSED", "PAYMENT_STUCK", "PROJECTION_MISMATCH", "REDIS_MISSING_SALE",
    "REDIS_SOLD_NOT_IN_DB", "SEAT_SOLD_TWICE", "SOLD_WITHOUT_ORDER", "AuditReport", "Auditor",
    "Discrepancy", "Grace", "audit",
]


@dataclass
class AuditReport:
    discrepancies: list[Discrepancy] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # what was looked at, by kind
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def of_kind(self, kind: str) -> list[Discrepancy]:
        return [d for d in self.discrepancies if d.kind == kind]

    @property
    def kinds(self) -> set[str]:
        return {d.kind for d in self.discrepancies}

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "startedAt": self.started_at.isoformat(),
                "discrepancies": [d.as_dict() for d in self.discrepancies]}

    def summary(self) -> str:
        if self.ok:
            return "audit clean"
        return "; ".join(f"{d.kind} {d.subject}: {d.detail}" for d in self.discrepancies[:20])



async def _snapshot_isolation(s: AsyncSession, db: Database) -> None:
    """PostgreSQL: every query of the audit sees one snapshot (SQLite's read transaction
    already does)."""
    if db.is_postgres:
        await s.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))


async def _read_db(db: Database, event_id: int | None) -> DbView:
    def scoped(q: Any, column: Any) -> Any:
        return q if event_id is None else q.where(column == event_id)

    async with db.snapshot_sessions() as s:
        await _snapshot_isolation(s, db)
        now = datetime.now(UTC)
        events = [int(x) for x in (await s.execute(
            scoped(select(col(Event.id)), col(Event.id)).order_by(col(Event.id)))).scalars()]
        seats = {int(x.id or 0): x for x in (await s.execute(
            scoped(select(Seat), col(Seat.event_id)))).scalars()}
        item_rows = (await s.execute(scoped(
            select(col(OrderItem.order_id), col(OrderItem.seat_id), col(OrderItem.price))
            .join(Order, col(Order.id) == col(OrderItem.order_id))
            .where(col(Order.status) == OrderStatus.CONFIRMED.value,
                   col(OrderItem.refunded).is_(False)), col(Order.event_id)))).all()
        owner_ids = {int(x.order_id) for x in seats.values() if x.order_id is not None}
        order_ids = owner_ids | {int(r[0]) for r in item_rows}
        orders: dict[int, Order] = {}
        ids = sorted(order_ids)
        for i in range(0, len(ids), 500):
            for o in (await s.execute(select(Order).where(col(Order.id).in_(ids[i:i + 500])))
                      ).scalars():
                orders[int(o.id or 0)] = o
        created = list((await s.execute(scoped(
            select(Order).where(col(Order.status) == OrderStatus.CREATED.value),
            col(Order.event_id)))).scalars())
        for o in created:
            orders[int(o.id or 0)] = o
        pending = list((await s.execute(scoped(
            select(Payment).join(Order, col(Order.id) == col(Payment.order_id))
            .where(col(Payment.status) == PaymentStatus.PENDING.value),
            col(Order.event_id)))).scalars())
        for o in (await s.execute(select(Order).where(col(Order.id).in_(
                sorted({int(p.order_id) for p in pending} - set(orders)))))).scalars():
            orders[int(o.id or 0)] = o
        processed = select(col(ProcessedEvent.event_uuid)).where(
            col(ProcessedEvent.consumer) == PROJECTION_CONSUMER)
        outbox_q = select(OutboxEvent).where(
            (col(OutboxEvent.status) != "SENT") | col(OutboxEvent.event_uuid).not_in(processed))
        if event_id is not None:
            outbox_q = outbox_q.where(col(OutboxEvent.partition_key) == str(event_id))
        outbox = list((await s.execute(outbox_q.order_by(col(OutboxEvent.id)))).scalars())
        projection = {int(p.event_id): p for p in (await s.execute(
            scoped(select(SalesProjection), col(SalesProjection.event_id)))).scalars()}
        n_orders = (await s.execute(scoped(select(func.count(col(Order.id))),
                                            col(Order.event_id)))).scalar_one()
        # Leaving the block closes the read transaction without expiring what was read.
    live: dict[int, list[int]] = defaultdict(list)
    for order_id, seat_id, _ in item_rows:
        live[int(seat_id)].append(int(order_id))
    return DbView(
        now=now, events=events, seats=seats, orders=orders, live_items=dict(live),
        confirmed_items=[(int(o), int(st), int(p)) for o, st, p in item_rows],
        pending_payment_orders={int(p.order_id) for p in pending}, payments_pending=pending,
        orders_created=created, outbox=outbox, projection=projection,
        checked={"events": len(events), "seats": len(seats), "orders": int(n_orders),
                 "confirmedItems": len(item_rows), "pendingPayments": len(pending),
                 "undeliveredOutboxRows": len(outbox)},
    )


async def _read_redis(holds: HoldStore, events: list[int]) -> dict[int, Snapshot]:
    """Loaded events only: an event Redis does not hold is rebuilt from the database on its
    next use, so there is nothing in Redis to disagree with."""
    out: dict[int, Snapshot] = {}
    for event_id in events:
        snap = await holds.snapshot(event_id)
        if snap is not None:
            out[event_id] = snap
    return out


async def _name_redis_buyers(db: Database, view: DbView, redis: dict[int, Snapshot]
                             ) -> None:
    """Orders Redis sells seats to that the snapshot did not need (cancelled, refunded): read
    them only to name them in a report; the checks rely on the snapshot alone."""
    known = {o.lock_token for o in view.orders.values()}
    unknown = sorted({st.token for snap in redis.values() for st in snap.states.values()
                      if st.code == "S" and st.token not in known})
    for i in range(0, len(unknown), 500):
        async with db.read_sessions() as s:
            for o in (await s.execute(select(Order).where(
                    col(Order.lock_token).in_(unknown[i:i + 500])))).scalars():
                view.orders.setdefault(int(o.id or 0), o)




class Auditor:
    """Reads the database (`db`) in one snapshot, then Redis through `holds`, and compares."""

    def __init__(self, db: Database, holds: HoldStore) -> None:
        self.db = db
        self.holds = holds

    async def _once(self, event_id: int | None, grace: Grace
                    ) -> tuple[list[Discrepancy], dict[str, int]]:
        view = await _read_db(self.db, event_id)
        redis = await _read_redis(self.holds, view.events)
        await _name_redis_buyers(self.db, view, redis)
        found = [*check_seats(view), *check_redis(view, redis), *check_stuck(view, grace),
                 *check_outbox(view, grace), *check_projection(view)]
        checked = {**view.checked, "redisEvents": len(redis)}
        return found, checked

    async def audit(
        self, event_id: int | None = None, *, order_grace_s: float = 30.0,
        payment_grace_s: float = 60.0, outbox_grace_s: float = 60.0, settle_s: float = 1.0,
    ) -> AuditReport:
        """Every discrepancy between Redis, the database and the projection, for one event or
        all.

        Grace periods: an order may stay CREATED `order_grace_s` past its payment deadline
        (the expiry job runs every second), a payment PENDING `payment_grace_s` after it was
        created (recovery after a worker crash is bounded at 30 s), an outbox row unpublished
        or unprocessed `outbox_grace_s`. A discrepancy is reported only if it is still there
        `settle_s` later (0 disables the second look), so work in flight at the first look is
        not reported.
        """
        grace = Grace(order_s=order_grace_s, payment_s=payment_grace_s,
                      outbox_s=outbox_grace_s)
        report = AuditReport()
        found, checked = await self._once(event_id, grace)
        if found and settle_s > 0:
            await asyncio.sleep(settle_s)
            again, checked = await self._once(event_id, grace)
            first = {(d.kind, d.subject) for d in found}
            found = [d for d in again if (d.kind, d.subject) in first]
        report.discrepancies = sorted(found, key=lambda d: (d.event_id or 0, d.kind, d.subject))
        report.checked = checked
        return report


class AuditSources(Protocol):
    """What the audit reads: the database and the hold store (a runtime has both)."""

    db: Database
    holds: HoldStore


async def audit(sources: AuditSources, event_id: int | None = None, **grace: float
                ) -> AuditReport:
    """`Auditor(db, holds).audit(...)` for a caller that holds a runtime (the CLI, tests,
    benchmarks)."""
    return await Auditor(sources.db, sources.holds).audit(event_id, **grace)
