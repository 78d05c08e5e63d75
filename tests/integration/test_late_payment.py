"""The late-payment policy, driven through the real services: an order's payment window ends
(ORDER_PAYMENT_WINDOW_S = 1 s in a runtime of its own), then the provider's success arrives,
possibly several times at once and while other buyers race for the seats. Every order ends
either confirmed or refunded, never both and never neither, and Redis, the database and the
outbox agree on which."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from sqlalchemy import select
from sqlmodel import col

from tests.conftest import Env
from tests.integration.helpers import eventually
from tests.integration.onsale_helpers import event_with, seats_of
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.db.models import (
    Notification,
    Order,
    OrderItem,
    OutboxEvent,
    Payment,
    Seat,
    Ticket,
)
from ticketing_app.services.uow import UnitOfWork


@pytest_asyncio.fixture
async def short_rt(env: Env) -> AsyncIterator[Runtime]:
    rt = await create_runtime(env.rt.settings.model_copy(
        update={"order_payment_window_s": 1, "db_pool_size": 3}))
    try:
        yield rt
    finally:
        await rt.close()


async def _order(env: Env, rt: Runtime, buyer: str, event_id: int, seats: list[int],
                 pay: bool = True) -> tuple[int, int]:
    """Hold, order (1 s payment window) and start a payment whose outcome we deliver later."""
    async with env.client(buyer) as c:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatIds": seats})
        assert r.status_code == 201, r.text
    _, body = await rt.orders.create(buyer, uuid.uuid4().hex, event_id, seats)
    order_id = int(body["orderId"])
    if not pay:
        return order_id, 0
    payment, _ = await rt.payments.start(buyer, order_id)
    return order_id, int(payment.id or 0)


async def _lapsed(env: Env, event_id: int, seats: list[int]) -> None:
    async def free() -> bool:
        snap = await env.rt.holds.snapshot(event_id)
        return snap is not None and all(snap.public_code(s) == "A" for s in seats)

    await eventually(free, timeout=10)


async def _outcome(env: Env, order_id: int) -> str:
    """Exactly one of: confirmed (paid, seats sold to it everywhere, tickets, no refund) or
    refunded (refund recorded and announced, order cancelled, nothing of it left anywhere)."""
    async with env.rt.db.read_sessions() as s:
        order = await s.get(Order, order_id)
        assert order is not None
        items = sorted((await s.execute(select(OrderItem.seat_id).where(
            OrderItem.order_id == order_id))).scalars())
        payments = list((await s.execute(select(Payment).where(
            Payment.order_id == order_id))).scalars())
        sold = sorted((await s.execute(select(Seat.id).where(
            col(Seat.order_id) == order_id))).scalars())
        tickets = len(list((await s.execute(select(Ticket.id).where(
            Ticket.order_id == order_id))).scalars()))
        types = Counter((await s.execute(select(OutboxEvent.event_type).where(
            OutboxEvent.aggregate_id == str(order_id)))).scalars())
    snap = await env.rt.holds.snapshot(order.event_id)
    assert snap is not None
    mine_in_redis = {sid: st.code for sid, st in snap.states.items()
                     if st.token == order.lock_token}
    assert len(payments) == 1 and types["PAYMENT_SUCCESS"] == 1, (payments, types)
    if payments[0].status == "AUTHORIZED":
        assert order.status == "CONFIRMED"
        assert sold == items and tickets == len(items)
        assert mine_in_redis == dict.fromkeys(items, "S")
        assert types["ORDER_CONFIRMED"] == 1 and types["PAYMENT_REFUNDED"] == 0
        return "confirmed"
    assert payments[0].status == "REFUNDED", payments[0].status
    assert order.status == "CANCELLED"
    assert sold == [] and tickets == 0 and mine_in_redis == {}
    assert types["PAYMENT_REFUNDED"] == 1 and types["ORDER_CONFIRMED"] == 0
    assert types["ORDER_CANCELLED"] == 1
    return "refunded"


async def test_late_success_ends_confirmed_or_refunded_never_both_never_neither(
    provider: Env, short_rt: Runtime,
) -> None:
    env = provider
    # Should the worker's payment recovery pick one of these payments up meanwhile, it is one
    # more duplicate delivery of the same success.
    await env.set_provider_mode("success")
    event_id = await event_with(env, 4, 10, max_seats_per_buyer=10)
    seats = await env.seat_ids(event_id)
    # Orders of two seats each: two whose seats stay free, two whose seats another buyer takes
    # first, two where other buyers race the payment's arrival, and four where the other
    # buyer lets go of the seat while the payment's duplicates are being decided.
    kinds = ["free", "free", "taken", "taken", "race", "race", "flip", "flip", "flip", "flip"]
    orders = await asyncio.gather(*(
        _order(env, short_rt, f"late-{i}", event_id, seats[2 * i:2 * i + 2])
        for i in range(len(kinds))))
    await _lapsed(env, event_id, seats[:2 * len(kinds)])

    async def steal(i: int) -> int:
        async with env.client(f"thief-{i}") as c:
            r = await c.post("/api/reservations",
                             json={"eventId": event_id, "seatId": seats[2 * i + 1]})
            return r.status_code

    async def let_go(i: int, delay: float) -> None:
        await asyncio.sleep(delay)
        async with env.client(f"thief-{i}") as c:
            r = await c.delete(f"/api/reservations/{event_id}/{seats[2 * i + 1]}")
            assert r.status_code == 204, r.text

    for i, kind in enumerate(kinds):
        if kind in ("taken", "flip"):
            assert await steal(i) == 201
    # Each success is delivered four times at once (a retried job, a recovered one), and in
    # the racing cases three other buyers grab for the seats at the same moment.
    calls = []
    for i, (kind, (_, payment_id)) in enumerate(zip(kinds, orders, strict=True)):
        calls += [short_rt.orders.apply_payment_success(payment_id) for _ in range(4)]
        if kind == "race":
            calls += [steal(i) for _ in range(3)]
        if kind == "flip":
            calls.append(let_go(i, 0.005 * (i - 6)))
    await asyncio.gather(*calls)

    results = [await _outcome(env, order_id) for order_id, _ in orders]
    assert results[:4] == ["confirmed", "confirmed", "refunded", "refunded"]
    snap = await env.rt.holds.snapshot(event_id)
    assert snap is not None
    for i, (kind, result) in enumerate(zip(kinds, results, strict=True)):
        thief_has_it = seats[2 * i + 1] in seats_of(snap, f"thief-{i}")
        # A seat is the paying buyer's or the thief's, never both, never lost.
        if kind != "flip":
            assert thief_has_it == (result == "refunded"), (kind, result)
        else:
            assert not thief_has_it
    # The buyer of a refunded order is told.
    refunded_order = orders[2][0]

    async def told() -> bool:
        async with env.rt.db.read_sessions() as s:
            n = await s.execute(select(Notification).where(
                Notification.order_id == refunded_order,
                Notification.kind == "PAYMENT_REFUNDED"))
            return n.scalar_one_or_none() is not None

    await eventually(told, timeout=30)


async def test_late_success_for_a_cancelled_order_and_within_the_buyer_limit(
    provider: Env, short_rt: Runtime,
) -> None:
    env = provider
    await env.set_provider_mode("success")
    event_id = await event_with(env, 2, 10, max_seats_per_buyer=3)
    seats = await env.seat_ids(event_id)
    # The window ends with no payment started: the worker cancels the order; a payment that
    # slipped in as it did (the start/expiry race) then succeeds: seats free -> re-confirmed.
    cancelled, _ = await _order(env, short_rt, "slow", event_id, seats[0:2], pay=False)

    async def is_cancelled() -> bool:
        async with env.rt.db.read_sessions() as s:
            o = await s.get(Order, cancelled)
            return o is not None and o.status == "CANCELLED"

    await eventually(is_cancelled, timeout=15)
    async with UnitOfWork(env.rt.db) as uow:
        p = Payment(order_id=cancelled, status="PENDING", amount=100000, currency="KRW")
        uow.session.add(p)
        await uow.commit()
    statuses = await asyncio.gather(*(short_rt.orders.apply_payment_success(int(p.id or 0))
                                      for _ in range(3)))
    assert set(statuses) == {"AUTHORIZED"}
    assert await _outcome(env, cancelled) == "confirmed"
    # A late success that would take the buyer over the limit is refunded instead: after the
    # lapse the buyer held other seats, and 2 (held) + 2 (late) > 3.
    order_id, payment_id = await _order(env, short_rt, "greedy", event_id, seats[4:6])
    await _lapsed(env, event_id, seats[4:6])
    async with env.client("greedy") as c:
        r = await c.post("/api/reservations", json={"eventId": event_id,
                                                    "seatIds": seats[12:14]})
        assert r.status_code == 201, r.text
    assert await short_rt.orders.apply_payment_success(payment_id) == "REFUNDED"
    assert await _outcome(env, order_id) == "refunded"
    async with env.rt.db.read_sessions() as s:
        reason = (await s.get(Payment, payment_id)).failure_reason  # type: ignore[union-attr]
    assert reason == "seat limit reached"
    snap = await env.rt.holds.snapshot(event_id)
    assert snap is not None and seats_of(snap, "greedy") == set(seats[12:14])


async def test_a_duplicate_delivery_cannot_sell_what_the_other_refunded(
    provider: Env, short_rt: Runtime,
) -> None:
    """The interleaving that used to leak, forced step by step: delivery A finds a seat taken
    and decides to refund; the other buyer lets go; duplicate delivery B finds the seats free.
    B must not sell them after A's refund (the decision is one per payment)."""
    env = provider
    await env.set_provider_mode("success")
    event_id = await event_with(env, 1, 6)
    seats = await env.seat_ids(event_id)
    order_id, payment_id = await _order(env, short_rt, "dup", event_id, seats[:2])
    await _lapsed(env, event_id, seats[:2])
    async with env.client("thief") as c:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": seats[1]})
        assert r.status_code == 201, r.text
    original = short_rt.holds.confirm
    checked = [asyncio.Event(), asyncio.Event()]
    go = [asyncio.Event(), asyncio.Event()]
    calls = 0

    async def paused_confirm(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        """The Redis gate as it is, then a pause: the test decides who goes on when."""
        nonlocal calls
        n, calls = calls, calls + 1
        res = await original(*args, **kwargs)
        if n < 2:
            checked[n].set()
            await go[n].wait()
        return res

    short_rt.holds.confirm = paused_confirm  # type: ignore[method-assign]
    first = asyncio.create_task(short_rt.orders.apply_payment_success(payment_id))
    await asyncio.wait_for(checked[0].wait(), 10)  # A: a seat is taken -> refund
    async with env.client("thief") as c:
        assert (await c.delete(f"/api/reservations/{event_id}/{seats[1]}")).status_code == 204
    second = asyncio.create_task(short_rt.orders.apply_payment_success(payment_id))
    with contextlib.suppress(TimeoutError):  # B would find the seats free now
        await asyncio.wait_for(checked[1].wait(), 1.0)
    go[0].set()
    assert await first == "REFUNDED"
    go[1].set()
    assert await second == "REFUNDED"
    assert await _outcome(env, order_id) == "refunded"
    snap = await env.rt.holds.snapshot(event_id)
    assert snap is not None and all(snap.public_code(s) == "A" for s in seats[:2])
