"""The scheduled audit in a real worker process: the jobs worker runs `ticketing audit` on its
AUDIT_INTERVAL_S schedule and its `/metrics` shows what the audit found, by kind, with the
counts an audit run here finds too; when the discrepancy is repaired the next run clears it.
The same endpoint shows a payment still pending past its order's deadline."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, update
from sqlmodel import col

from tests.integration.helpers import eventually, local_services, on_sale_event
from tests.integration.inprocess import stack_settings
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.db.models import Order, OrderItem, Payment, Seat
from ticketing_app.embedded import ChildProcess, free_port
from ticketing_app.services.audit import KINDS, SEAT_SOLD_TWICE
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from local_services(tmp_path_factory, "scheduled_audit")


@pytest_asyncio.fixture(scope="module")
async def rt(services: Stack) -> AsyncIterator[Runtime]:
    runtime = await create_runtime(stack_settings(services.env()))
    try:
        yield runtime
    finally:
        await runtime.close()


def start_worker(st: Stack, **env: str) -> ChildProcess:
    """A worker with its ops endpoint on a free port; started again on another port if the
    one picked was taken before it bound it (the liveness answer names the process)."""
    for _ in range(3):
        port = free_port()
        proc = st.start_process("worker", f"worker-{port}", OPS_PORT=str(port), **env)
        proc.port = port

        def answers(p: ChildProcess = proc) -> bool:
            try:
                body = httpx.get(f"http://127.0.0.1:{p.port}/actuator/health/liveness",
                                 timeout=2).json()
            except (httpx.HTTPError, ValueError):
                return False
            return p.proc is not None and body.get("pid") == p.proc.pid

        import time

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.running and not answers():
            time.sleep(0.1)
        if answers():
            return proc
        proc.stop()
    raise RuntimeError("the worker could not keep a port")


async def scrape(proc: ChildProcess) -> Samples:
    async with httpx.AsyncClient(timeout=10) as c:
        r = await c.get(f"http://127.0.0.1:{proc.port}/metrics")
    assert r.status_code == 200, r.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(r.text) for s in fam.samples}


def by_kind(samples: Samples) -> dict[str, float]:
    return {dict(labels)["kind"]: v for (name, labels), v in samples.items()
            if name == "tk_audit_discrepancies"}


async def sell_one_seat_twice(rt: Runtime, event_id: int, seat_id: int) -> list[int]:
    """Two confirmed orders of one seat, written straight into the database (what the
    product's own paths refuse to do): the oversell the audit exists to catch."""
    ids = []
    async with rt.db.write_sessions() as s:
        for buyer in ("first", "twin"):
            order = Order(event_id=event_id, buyer_id=f"{buyer}-{uuid.uuid4().hex[:6]}",
                          status="CONFIRMED", total=1000, idempotency_key=uuid.uuid4().hex,
                          lock_token=uuid.uuid4().hex,
                          payment_deadline=datetime.now(UTC) - timedelta(minutes=5))
            s.add(order)
            await s.flush()
            ids.append(int(order.id or 0))
            s.add(OrderItem(order_id=ids[-1], seat_id=seat_id, price=1000, currency="KRW"))
        await s.execute(update(Seat).where(col(Seat.id) == seat_id)
                        .values(status="SOLD", order_id=ids[0]))
        await s.commit()
    return ids


async def overdue_payment(rt: Runtime, event_id: int, seat_id: int, late_s: float) -> int:
    """An order whose payment window ended `late_s` ago, its payment still PENDING."""
    async with rt.db.write_sessions() as s:
        order = Order(event_id=event_id, buyer_id="slow-payer", status="CREATED", total=1000,
                      idempotency_key=uuid.uuid4().hex, lock_token=uuid.uuid4().hex,
                      payment_deadline=datetime.now(UTC) - timedelta(seconds=late_s))
        s.add(order)
        await s.flush()
        s.add(OrderItem(order_id=int(order.id or 0), seat_id=seat_id, price=1000,
                        currency="KRW"))
        payment = Payment(order_id=int(order.id or 0), amount=1000, currency="KRW")
        s.add(payment)
        await s.commit()
        return int(payment.id or 0)


async def test_the_worker_audits_on_schedule_and_exports_what_it_found(
    services: Stack, rt: Runtime,
) -> None:
    event_id, seats = await on_sale_event(rt, 2, 4)
    orders = await sell_one_seat_twice(rt, event_id, seats[0])
    # Its recovery would re-enqueue the payment after PAYMENT_JOB_TIMEOUT_S + 5: not in this
    # test's time, so the payment stays pending past its deadline.
    await overdue_payment(rt, event_id, seats[1], late_s=100)
    worker = start_worker(services, AUDIT_INTERVAL_S="2", METRICS_INTERVAL_S="0.2",
                          PAYMENT_JOB_TIMEOUT_S="120")
    try:
        async def audited() -> Samples | None:
            m = await scrape(worker)
            return m if by_kind(m).get(SEAT_SOLD_TWICE) == 1 else None

        samples = await eventually(audited, timeout=60, interval=0.3)
        # The counts, every kind, are what an audit run here finds.
        expected = Counter(d.kind for d in (await rt.auditor.audit(event_id)).discrepancies)
        assert by_kind(samples) == {k: float(expected.get(k, 0)) for k in KINDS}
        assert samples[("tk_audit_runs_total", (("result", "discrepancies"),))] >= 1
        first_run = samples[("tk_audit_last_run_timestamp_seconds", ())]
        assert abs(first_run - datetime.now(UTC).timestamp()) < 120
        assert samples[("tk_payments_past_deadline", ())] == 1
        assert samples[("tk_payments_past_deadline_max_seconds", ())] >= 100
        assert samples[("tk_dependency_up", (("dependency", "db"),))] == 1
        assert samples[("tk_dependency_up", (("dependency", "redis"),))] == 1

        # On schedule: the next ticks run again (a later finish time).
        async def ran_again() -> bool:
            m = await scrape(worker)
            return m[("tk_audit_last_run_timestamp_seconds", ())] > first_run

        await eventually(ran_again, timeout=30, interval=0.3)

        # Repaired: the twin sale goes, and a later run clears the gauge (the alert resolves).
        async with rt.db.write_sessions() as s:
            await s.execute(delete(OrderItem).where(col(OrderItem.order_id) == orders[1]))
            await s.execute(update(Order).where(col(Order.id) == orders[1])
                            .values(status="CANCELLED"))
            await s.commit()

        async def cleared() -> dict[str, Any] | None:
            kinds = by_kind(await scrape(worker))
            return kinds if kinds.get(SEAT_SOLD_TWICE) == 0 else None

        kinds = await eventually(cleared, timeout=30, interval=0.3)
        assert set(kinds) == set(KINDS)
    finally:
        worker.stop()
    assert worker.proc is not None and worker.proc.returncode == 0, \
        worker.log_path.read_text()[-2000:]
