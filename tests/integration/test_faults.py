"""Fault injection around payments, with real processes (the API, the ARQ worker, the relay, the
consumers, Valkey, the broker) on each database backend, SQLite and PostgreSQL: the worker
SIGKILLed in the middle of payments, a provider that never answers, an order lock that lapses
while its payment is paused, and the saga's compensation run twice. Each test ends with the
reconciliation audit clean.

Timing is the product's defaults: PAYMENT_JOB_TIMEOUT_S = 10, so ARQ's in-progress key of a
killed job lapses 20 s after the job started (timeout + 10 s) and another worker runs it again;
PAYMENT_PROVIDER_TIMEOUT_S = 5 bounds that run. Hence the stated bound: 30 s after a worker is
killed, every payment it had in flight is settled or compensated."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlmodel import col

from backend_jobs.provider import MODE_KEY
from tests.integration.faults import (
    FAULT_BACKENDS,
    assert_audit_clean,
    authorize,
    buyer_name,
    charges,
    client,
    fault_stack,
    hold_and_order,
    new_event,
    order_statuses,
    payments_of,
    restart,
    signal_group,
    wait_all_final,
)
from tests.integration.helpers import eventually
from tests.integration.inprocess import stack_settings
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.db.models import (
    Order,
    OrderItem,
    OutboxEvent,
    Payment,
    SalesProjection,
    Seat,
    Ticket,
)
from ticketing_app.domain.orders import PaymentStatus
from ticketing_app.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.fault]

RECOVERY_BOUND_S = 30  # docs/reliability.md, "Guarantees"


@pytest.fixture(scope="module", params=FAULT_BACKENDS)
def faulty(request: pytest.FixtureRequest) -> Iterator[Stack]:
    with fault_stack(str(request.param)) as st:
        yield st


@pytest_asyncio.fixture(scope="module")
async def rt(faulty: Stack) -> AsyncIterator[Runtime]:
    runtime = await create_runtime(stack_settings(faulty.env()))
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest_asyncio.fixture
async def mode(rt: Runtime) -> AsyncIterator[Any]:
    """Steers the simulated provider (success | fail | hang); random again afterwards."""
    async def set_mode(value: str) -> None:
        await rt.redis.set(MODE_KEY, value)

    yield set_mode
    await rt.redis.delete(MODE_KEY)


def in_progress(payment_id: int) -> str:
    return f"arq:in-progress:pay:{payment_id}"


async def outbox_types(rt: Runtime, order_id: int) -> Counter[str]:
    async with rt.db.read_sessions() as s:
        return Counter((await s.execute(select(col(OutboxEvent.event_type)).where(
            col(OutboxEvent.aggregate_id) == str(order_id)))).scalars())


async def redis_codes(rt: Runtime, event_id: int, seats: list[int]) -> dict[int, str]:
    snap = await rt.holds.snapshot(event_id)
    assert snap is not None
    return {s: snap.public_code(s) for s in seats}


async def test_worker_killed_mid_payments_settles_every_order_once_within_30s(
    faulty: Stack, rt: Runtime,
) -> None:
    n = 16
    event_id, seats = await new_event(rt, 2, 10)
    buyers = [buyer_name("kill") for _ in range(n)]

    async def ordered(i: int) -> int:
        async with client(faulty, buyers[i]) as c:
            return int((await hold_and_order(c, event_id, [seats[i]]))["orderId"])

    orders = list(await asyncio.gather(*(ordered(i) for i in range(n))))

    async def pay(i: int) -> httpx.Response:
        async with client(faulty, buyers[i]) as c:
            return await authorize(c, orders[i])

    # Random outcomes (about 80 % approved), 300-900 ms per charge, all at once.
    paying = [asyncio.create_task(pay(i)) for i in range(n)]

    async def mid_way() -> bool:
        pays = await payments_of(rt, orders)
        settled = [p for p in pays if p.status != "PENDING"]
        running = [p for p in pays if p.status == "PENDING"
                   and await rt.redis.exists(in_progress(int(p.id or 0)))]
        return len(pays) == n and len(settled) >= 1 and len(running) >= 3

    await eventually(mid_way, timeout=30, interval=0.02)
    worker = faulty.procs["worker"]
    signal_group(worker, signal.SIGKILL)
    killed_at = time.monotonic()
    assert worker.proc is not None
    worker.proc.wait(10)
    interrupted = [int(p.id or 0) for p in await payments_of(rt, orders) if p.status == "PENDING"]
    assert interrupted, "the kill came too late: nothing was in flight"
    restart(faulty, "worker")  # the orchestrator brings a worker back at once

    statuses = await wait_all_final(rt, orders, killed_at + RECOVERY_BOUND_S)

    payments = await payments_of(rt, orders)
    assert sorted(p.order_id for p in payments) == sorted(orders)  # one payment per order
    for p in payments:
        count, verdict = await charges(rt, int(p.id or 0))
        assert count == 1, f"payment {p.id} charged {count} times"
        expected = {"ok": ("AUTHORIZED", "CONFIRMED"), "declined": ("FAILED", "CANCELLED")}
        assert (p.status, statuses[p.order_id]) == expected[str(verdict)], (p.id, verdict)
        types = await outbox_types(rt, p.order_id)
        assert types["PAYMENT_SUCCESS"] + types["PAYMENT_FAILED"] == 1, types
        assert types["ORDER_CONFIRMED"] + types["ORDER_CANCELLED"] == 1, types
    # The buyers were answered: the outcome, or `pending` when it came later than the wait.
    by_order = {p.order_id: p.status for p in payments}
    for i, r in enumerate(await asyncio.gather(*paying)):
        assert r.status_code in (200, 202), r.text
        public = r.json()["status"]
        assert public == "pending" or public == (
            "success" if by_order[orders[i]] == "AUTHORIZED" else "fail"), (public, orders[i])
    await assert_audit_clean(rt, event_id)


async def test_a_payment_that_never_answers_times_out_and_is_compensated(
    faulty: Stack, rt: Runtime, mode: Any,
) -> None:
    await mode("hang")
    event_id, seats = await new_event(rt, 1, 6)
    buyer = buyer_name("hang")
    async with client(faulty, buyer) as c:
        order_id = int((await hold_and_order(c, event_id, seats[:2]))["orderId"])
        r = await authorize(c, order_id)  # waits: PAYMENT_PROVIDER_TIMEOUT_S is 5 s
        assert r.status_code == 200 and r.json()["status"] == "fail", r.text
        order = (await c.get(f"/api/orders/{order_id}")).json()
    assert order["status"] == "CANCELLED" and order["closeReason"] == "payment timed_out"
    payment = (await payments_of(rt, [order_id]))[0]
    assert payment.status == PaymentStatus.TIMED_OUT.value
    assert payment.failure_reason == "payment provider did not answer"
    assert await charges(rt, int(payment.id or 0)) == (0, None)  # nothing was taken
    types = await outbox_types(rt, order_id)
    assert types == Counter({"ORDER_CREATED": 1, "PAYMENT_FAILED": 1, "ORDER_CANCELLED": 1})
    # Compensated everywhere: the seats are free in the database and in Redis, for anyone.
    async with rt.db.read_sessions() as s:
        db = {x.id: (x.status, x.order_id) for x in (await s.execute(
            select(Seat).where(col(Seat.id).in_(seats[:2])))).scalars()}
    assert db == dict.fromkeys(seats[:2], ("AVAILABLE", None))
    assert await redis_codes(rt, event_id, seats[:2]) == dict.fromkeys(seats[:2], "A")
    await mode("success")
    async with client(faulty, buyer_name("next")) as c:
        again = int((await hold_and_order(c, event_id, seats[:2]))["orderId"])
        assert (await authorize(c, again)).json()["status"] == "success"
    await assert_audit_clean(rt, event_id)


async def test_an_order_lock_lapsing_while_its_payment_is_paused_cannot_sell_twice(
    faulty: Stack, rt: Runtime, mode: Any,
) -> None:
    """The worker is frozen (SIGSTOP) in the middle of buyer A's charge until A's order lock
    has lapsed and buyer B has locked the seats; then it goes on, and the provider approves
    A. The confirmation is fenced by A's lock token (confirm.lua), with the database's guarded
    sale behind it: A is refunded, B buys, the seat is sold once."""
    await mode("success")
    event_id, seats = await new_event(rt, 1, 6)
    wanted = seats[:2]
    a, b = buyer_name("frozen"), buyer_name("after")
    short = await create_runtime(rt.settings.model_copy(
        update={"order_payment_window_s": 2, "db_pool_size": 2}))
    worker = faulty.procs["worker"]
    stopped = False
    try:
        async with client(faulty, a) as c:
            r = await c.post("/api/reservations", json={"eventId": event_id, "seatIds": wanted})
            assert r.status_code == 201, r.text
        # A's order keeps its seats for 2 s only (a runtime with a short payment window).
        _, body = await short.orders.create(a, uuid.uuid4().hex, event_id, wanted)
        order_a = int(body["orderId"])
        async with client(faulty, a) as c:
            paying = asyncio.create_task(authorize(c, order_a))

            async def charging() -> int | None:
                pays = await payments_of(rt, [order_a])
                if pays and await rt.redis.exists(in_progress(int(pays[0].id or 0))):
                    return int(pays[0].id or 0)
                return None

            payment_a = int(await eventually(charging, timeout=20, interval=0.01))
            signal_group(worker, signal.SIGSTOP)
            stopped = True
            assert (await payments_of(rt, [order_a]))[0].status == "PENDING"

            async def lapsed() -> bool:
                return (await redis_codes(rt, event_id, wanted)) == dict.fromkeys(wanted, "A")

            await eventually(lapsed, timeout=10, interval=0.05)
            async with client(faulty, b) as cb:
                order_b = int((await hold_and_order(cb, event_id, wanted))["orderId"])
            signal_group(worker, signal.SIGCONT)
            stopped = False
            r = await paying
        assert r.status_code == 200 and r.json()["status"] == "fail", r.text
        async with client(faulty, b) as cb:
            assert (await authorize(cb, order_b)).json()["status"] == "success"
    finally:
        if stopped:
            signal_group(worker, signal.SIGCONT)
        await short.close()

    assert await order_statuses(rt, [order_a, order_b]) == {order_a: "CANCELLED",
                                                            order_b: "CONFIRMED"}
    async with rt.db.read_sessions() as s:
        pay_a = await s.get(Payment, payment_a)
        sold = {x.id: (x.status, x.order_id) for x in (await s.execute(
            select(Seat).where(col(Seat.id).in_(wanted)))).scalars()}
        tickets = Counter((await s.execute(select(col(Ticket.order_id)).where(
            col(Ticket.seat_id).in_(wanted)))).scalars())
        close_a = (await s.get(Order, order_a)).close_reason  # type: ignore[union-attr]
    assert pay_a is not None and pay_a.status == "REFUNDED"
    assert pay_a.failure_reason == "seats no longer available"
    assert "payment refunded" in close_a
    assert await charges(rt, payment_a) == (1, "ok")  # charged once, then refunded
    assert sold == dict.fromkeys(wanted, ("SOLD", order_b))
    assert tickets == Counter({order_b: len(wanted)})
    types_a = await outbox_types(rt, order_a)
    assert types_a["PAYMENT_REFUNDED"] == 1 and types_a["ORDER_CONFIRMED"] == 0
    snap = await rt.holds.snapshot(event_id)
    assert snap is not None
    async with rt.db.read_sessions() as s:
        token_b = (await s.get(Order, order_b)).lock_token  # type: ignore[union-attr]
    assert {x: (snap.states[x].code, snap.states[x].token) for x in wanted} == \
        dict.fromkeys(wanted, ("S", token_b))
    await assert_audit_clean(rt, event_id)


async def _end_state(rt: Runtime, event_id: int, order_id: int) -> dict[str, Any]:
    """Everything a compensation touches, for comparing two orders."""
    async with rt.db.read_sessions() as s:
        order = await s.get(Order, order_id)
        assert order is not None
        payment = (await s.execute(select(Payment).where(
            col(Payment.order_id) == order_id))).scalar_one()
        items = list((await s.execute(select(col(OrderItem.seat_id)).where(
            col(OrderItem.order_id) == order_id))).scalars())
        db_seats = sorted({(x.status, x.order_id) for x in (await s.execute(
            select(Seat).where(col(Seat.id).in_(items)))).scalars()}, key=str)
    count, verdict = await charges(rt, int(payment.id or 0))
    return {
        "order": (order.status, order.close_reason),
        "payment": (payment.status, payment.failure_reason),
        "charged": (count, verdict),
        "outbox": dict(await outbox_types(rt, order_id)),
        "db_seats": db_seats,
        "redis": sorted(set((await redis_codes(rt, event_id, items)).values())),
    }


async def test_compensation_run_twice_ends_in_the_same_state(
    faulty: Stack, rt: Runtime, mode: Any,
) -> None:
    """The worker dies after the compensation committed and before it released the seats in
    Redis; ARQ runs the job again (its in-progress lease lapses: deleted here rather than
    waited for), and then the compensation runs three more times at once. The end state is
    the one a single, uninterrupted compensation leaves."""
    await mode("fail")
    event_id, seats = await new_event(rt, 1, 8)
    # The reference: a compensation that ran once, undisturbed.
    async with client(faulty, buyer_name("once")) as c:
        once = int((await hold_and_order(c, event_id, seats[:2]))["orderId"])
        assert (await authorize(c, once)).json()["status"] == "fail"
    reference = await _end_state(rt, event_id, once)

    faulty.procs["worker"].stop()
    paused = faulty.start_process("worker", "worker-compensating",
                                  FAULT_INJECT="payment.after_compensation_commit")
    buyer = buyer_name("twice")
    try:
        async with client(faulty, buyer) as c:
            order_id = int((await hold_and_order(c, event_id, seats[2:4]))["orderId"])
            paying = asyncio.create_task(authorize(c, order_id))

            async def half_compensated() -> bool:
                return (await order_statuses(rt, [order_id]))[order_id] == "CANCELLED"

            await eventually(half_compensated, timeout=20)
            # Cancelled in the database, the seats still locked for the order in Redis.
            assert await redis_codes(rt, event_id, seats[2:4]) == dict.fromkeys(seats[2:4], "H")
            signal_group(paused, signal.SIGKILL)
            restart(faulty, "worker")
            payment_id = int((await payments_of(rt, [order_id]))[0].id or 0)
            assert await rt.redis.delete(in_progress(payment_id)) == 1

            async def released() -> bool:
                codes = await redis_codes(rt, event_id, seats[2:4])
                return codes == dict.fromkeys(seats[2:4], "A")

            await eventually(released, timeout=15)
            assert (await paying).json()["status"] == "fail"
    finally:
        paused.stop()
        if not faulty.procs["worker"].running:
            restart(faulty, "worker")
    statuses = await asyncio.gather(*(
        rt.orders.apply_payment_failure(payment_id, status, "compensated again")
        for status in (PaymentStatus.FAILED, PaymentStatus.TIMED_OUT, PaymentStatus.FAILED)))
    assert set(statuses) == {"FAILED"}
    assert await _end_state(rt, event_id, order_id) == reference
    async with client(faulty, buyer_name("next")) as c:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatIds": seats[:4]})
        assert r.status_code == 201, r.text
    report = await assert_audit_clean(rt, event_id)
    assert report.ok
    async with rt.db.read_sessions() as s:
        proj = await s.get(SalesProjection, event_id)
        cancelled = (await s.execute(select(func.count()).select_from(Order).where(
            col(Order.event_id) == event_id, col(Order.status) == "CANCELLED"))).scalar_one()
    assert proj is not None and proj.orders_cancelled == cancelled == 2
    assert proj.payments_failed == 2
