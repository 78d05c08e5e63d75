"""Reconciliation (`ticketing audit`): a normal run is clean, and every kind of discrepancy,
created on purpose in the database or in Redis, is found."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlmodel import col

from tests.conftest import Env
from tests.integration.flows import hold, hold_and_order, pay
from tests.integration.helpers import eventually
from ticketing_app.db.models import (
    Order,
    OrderItem,
    OutboxEvent,
    Payment,
    SalesProjection,
    Seat,
)
from ticketing_app.domain.events import Envelope
from ticketing_app.holds.keys import EventKeys
from ticketing_app.services import audit as A
from ticketing_app.settings import PROJECT_ROOT


@dataclass
class Sales:
    event_id: int
    seats: list[int]
    paid: int  # a confirmed order of seats[0:2]
    cancelled: int  # a failed payment's order of seats[2:3]


async def make_sales(env: Env) -> Sales:
    """One event with a paid order, a failed one and a live hold, fully projected."""
    event_id = await env.new_event(rows=2, cols=5)
    seats = await env.seat_ids(event_id)
    await env.set_provider_mode("success")
    async with env.client(f"paid-{uuid.uuid4().hex[:6]}") as c:
        paid = await hold_and_order(c, event_id, seats[0:2])
        assert (await pay(c, paid))["status"] == "success"
    await env.set_provider_mode("fail")
    async with env.client(f"fail-{uuid.uuid4().hex[:6]}") as c:
        cancelled = await hold_and_order(c, event_id, seats[2:3])
        assert (await pay(c, cancelled))["status"] == "fail"
    async with env.client(f"hold-{uuid.uuid4().hex[:6]}") as c:
        await hold(c, event_id, seats[3:4])

    async def fully_projected() -> bool:
        return (await A.audit(env.rt, event_id, outbox_grace_s=0, settle_s=0)).ok

    await eventually(fully_projected, timeout=30)
    return Sales(event_id, seats, paid, cancelled)


async def seat_st(env: Env, event_id: int, seat_id: int, raw: str) -> None:
    await env.rt.redis.hset(f"{EventKeys(event_id).base}:st", str(seat_id), raw)  # type: ignore[misc]


async def lock_token(env: Env, order_id: int) -> str:
    async with env.rt.db.read_sessions() as s:
        o = await s.get(Order, order_id)
        assert o is not None
        return o.lock_token


async def found(env: Env, event_id: int, **kw: float) -> A.AuditReport:
    kw.setdefault("settle_s", 0.2)
    return await A.audit(env.rt, event_id, **kw)


def cli_audit(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ticketing_app.cli", "audit", *args],
                          env=env.stack.env(), cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=60)


async def test_a_normal_run_is_clean(provider: Env) -> None:
    env = provider
    sales = await make_sales(env)
    report = await A.audit(env.rt, sales.event_id)
    assert report.ok, report.summary()
    assert report.checked["seats"] == 10 and report.checked["orders"] == 2
    assert report.checked["confirmedItems"] == 2 and report.checked["redisEvents"] == 1
    async with env.rt.db.read_sessions() as s:
        proj = await s.get(SalesProjection, sales.event_id)
    assert proj is not None and proj.seats_sold == 2 and proj.revenue == 100000
    done = cli_audit(env, "--event", str(sales.event_id), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"ok": true' in done.stdout


async def test_seat_sold_twice(provider: Env) -> None:
    env = provider
    sales = await make_sales(env)
    seat = sales.seats[0]
    # A second confirmed order item for a seat that is already sold.
    async with env.rt.db.write_sessions() as s:
        twin = Order(event_id=sales.event_id, buyer_id="twin", status="CONFIRMED", total=1,
                     idempotency_key=uuid.uuid4().hex, lock_token=uuid.uuid4().hex,
                     payment_deadline=datetime.now(UTC))
        s.add(twin)
        await s.flush()
        s.add(OrderItem(order_id=int(twin.id or 0), seat_id=seat, price=1, currency="KRW"))
        await s.commit()
    report = await found(env, sales.event_id)
    twice = report.of_kind(A.SEAT_SOLD_TWICE)
    assert [d.subject for d in twice] == [f"seat:{seat}"], report.summary()
    assert str(sales.paid) in twice[0].detail and str(twin.id) in twice[0].detail
    assert A.PROJECTION_MISMATCH in report.kinds  # the projection never saw the twin
    done = cli_audit(env, "--event", str(sales.event_id), "--settle", "0")
    assert done.returncode == 1 and "SEAT_SOLD_TWICE" in done.stdout, done.stdout


async def test_seat_owner_disagrees_with_the_confirmed_order(provider: Env) -> None:
    env = provider
    sales = await make_sales(env)
    seat = sales.seats[1]
    async with env.rt.db.write_sessions() as s:
        await s.execute(update(Seat).where(col(Seat.id) == seat)
                        .values(order_id=sales.cancelled))
        await s.commit()
    report = await found(env, sales.event_id)
    assert [(d.kind, d.subject) for d in report.discrepancies] == \
        [(A.SEAT_SOLD_TWICE, f"seat:{seat}")], report.summary()


async def test_sold_seat_without_a_confirmed_order(provider: Env) -> None:
    env = provider
    sales = await make_sales(env)
    orphan, of_cancelled = sales.seats[5], sales.seats[2]
    async with env.rt.db.write_sessions() as s:
        await s.execute(update(Seat).where(col(Seat.id) == orphan).values(status="SOLD"))
        await s.execute(update(Seat).where(col(Seat.id) == of_cancelled)
                        .values(status="SOLD", order_id=sales.cancelled))
        await s.commit()
    report = await found(env, sales.event_id)
    sold = {d.subject: d.detail for d in report.of_kind(A.SOLD_WITHOUT_ORDER)}
    assert set(sold) == {f"seat:{orphan}", f"seat:{of_cancelled}"}, report.summary()
    assert "CANCELLED" in sold[f"seat:{of_cancelled}"]
    # Redis still has both seats free: the sale is missing there too.
    assert {d.subject for d in report.of_kind(A.REDIS_MISSING_SALE)} == set(sold)


async def test_confirmed_order_whose_seats_are_not_sold(provider: Env) -> None:
    env = provider
    sales = await make_sales(env)
    in_db, in_redis = sales.seats[0], sales.seats[1]
    async with env.rt.db.write_sessions() as s:
        await s.execute(update(Seat).where(col(Seat.id) == in_db)
                        .values(status="AVAILABLE", order_id=None))
        await s.commit()
    await env.rt.redis.hdel(f"{EventKeys(sales.event_id).base}:st", str(in_redis))  # type: ignore[misc]
    report = await found(env, sales.event_id)
    assert [(d.subject, str(in_db) in d.detail) for d in report.of_kind(A.CONFIRMED_NOT_SOLD)] \
        == [(f"order:{sales.paid}", True)], report.summary()
    # Redis still sells the seat the database lost, and lost the seat the database sold.
    assert [d.subject for d in report.of_kind(A.REDIS_SOLD_NOT_IN_DB)] == [f"seat:{in_db}"]
    missing = report.of_kind(A.REDIS_MISSING_SALE)
    assert [d.subject for d in missing] == [f"seat:{in_redis}"] and "free" in missing[0].detail


async def test_hold_or_order_lock_on_a_sold_seat(provider: Env) -> None:
    env = provider
    sales = await make_sales(env)
    far = int((time.time() + 60) * 1000)
    now = int(time.time() * 1000)
    await seat_st(env, sales.event_id, sales.seats[0], f"H|intruder|{far}|{now}|t")
    await seat_st(env, sales.event_id, sales.seats[1], f"O|{uuid.uuid4().hex}|intruder|{far}|t")
    report = await found(env, sales.event_id)
    assert {d.subject for d in report.of_kind(A.HOLD_ON_SOLD_SEAT)} == \
        {f"seat:{sales.seats[0]}", f"seat:{sales.seats[1]}"}, report.summary()


async def test_redis_sale_unknown_to_the_database(provider: Env) -> None:
    env = provider
    sales = await make_sales(env)
    ghost = sales.seats[6]
    await seat_st(env, sales.event_id, ghost, f"S|{uuid.uuid4().hex}|ghost")
    # Sold in Redis to the cancelled order, and to another order than the database says.
    await seat_st(env, sales.event_id, sales.seats[2],
                  f"S|{await lock_token(env, sales.cancelled)}|x")
    await seat_st(env, sales.event_id, sales.seats[0],
                  f"S|{await lock_token(env, sales.cancelled)}|x")
    report = await found(env, sales.event_id)
    assert {d.subject for d in report.of_kind(A.REDIS_SOLD_NOT_IN_DB)} == \
        {f"seat:{ghost}", f"seat:{sales.seats[2]}"}, report.summary()
    wrong = report.of_kind(A.REDIS_MISSING_SALE)
    assert [d.subject for d in wrong] == [f"seat:{sales.seats[0]}"]
    assert f"order {sales.cancelled}" in wrong[0].detail


async def test_stuck_order_and_payment_and_in_flight_sale(provider: Env) -> None:
    """An order past its deadline whose payment never finishes; while that payment is
    pending, its seat sold in Redis but not yet in the database is in flight, not a fault."""
    env = provider
    sales = await make_sales(env)
    seat = sales.seats[7]
    async with env.client("stuck") as c:
        order_id = await hold_and_order(c, sales.event_id, [seat])
    async with env.rt.db.write_sessions() as s:
        p = Payment(order_id=order_id, amount=50000, currency="KRW")
        s.add(p)
        await s.execute(update(Order).where(col(Order.id) == order_id).values(
            payment_deadline=datetime.now(UTC) - timedelta(minutes=5)))
        await s.commit()
    token = await lock_token(env, order_id)
    assert await env.rt.holds.confirm(sales.event_id, token, "stuck", [seat]) == []
    report = await found(env, sales.event_id, payment_grace_s=0)
    assert [(d.kind, d.subject) for d in report.discrepancies] == [
        (A.ORDER_STUCK, f"order:{order_id}"), (A.PAYMENT_STUCK, f"payment:{p.id}")
    ], report.summary()
    assert "payment still pending" in report.discrepancies[0].detail
    # Inside the payment grace the payment and its seat, sold in Redis only, are in flight.
    assert (await found(env, sales.event_id)).kinds == {A.ORDER_STUCK}
    # The saga's compensation finishes it; then everything agrees again.
    from ticketing_app.domain.orders import PaymentStatus

    await env.rt.orders.apply_payment_failure(int(p.id or 0), PaymentStatus.TIMED_OUT, "test")
    await env.rt.holds.unsell(sales.event_id, token, [seat])
    report = await found(env, sales.event_id)
    assert report.ok, report.summary()


async def test_outbox_rows_never_delivered_or_never_processed(provider: Env) -> None:
    env = provider
    sales = await make_sales(env)
    # SENT 5 s ago: young enough that the relay does not re-send it during the test (it
    # re-sends after 60 s), old enough to be late with a 1 s grace.
    old = datetime.now(UTC) - timedelta(seconds=5)
    rows = []
    for status in ("FAILED", "SENT"):
        envl = Envelope(type="AUDIT_PROBE", aggregateId="0", payload={})
        rows.append(OutboxEvent(event_uuid=envl.eventId, event_type=envl.type, aggregate_id="0",
                                partition_key=str(sales.event_id), payload=envl.model_dump(),
                                status=status, created_at=old, sent_at=old,
                                last_error="broker did not acknowledge"))
    async with env.rt.db.write_sessions() as s:
        s.add_all(rows)
        await s.commit()
    try:
        report = await found(env, sales.event_id, outbox_grace_s=1)
        assert [(d.kind, d.subject) for d in report.discrepancies] == [
            (A.OUTBOX_UNDELIVERED, f"outbox:{rows[0].id}"),
            (A.OUTBOX_UNPROCESSED, f"outbox:{rows[1].id}"),
        ], report.summary()
        # Inside the grace period the SENT row is in flight; a FAILED row never is.
        assert [d.subject for d in (await found(env, sales.event_id)).discrepancies] == \
            [f"outbox:{rows[0].id}"]
    finally:
        async with env.rt.db.write_sessions() as s:
            await s.execute(delete(OutboxEvent).where(
                col(OutboxEvent.id).in_([r.id for r in rows])))
            await s.commit()


async def test_projection_totals_that_differ_from_the_database(provider: Env) -> None:
    env = provider
    sales = await make_sales(env)
    async with env.rt.db.write_sessions() as s:
        await s.execute(update(SalesProjection)
                        .where(col(SalesProjection.event_id) == sales.event_id)
                        .values(revenue=SalesProjection.revenue + 1))
        await s.commit()
    # The projection is compared only while none of the event's outbox rows is on its way
    # (then the totals may differ legitimately): wait until none is, as the audit does.
    await eventually(lambda: _nothing_in_flight(env, sales.event_id), timeout=20)
    report = await found(env, sales.event_id)
    mismatch = report.of_kind(A.PROJECTION_MISMATCH)
    assert [d.subject for d in mismatch] == [f"event:{sales.event_id}"], report.summary()
    assert "1/2/100001" in mismatch[0].detail and "1/2/100000" in mismatch[0].detail


async def _nothing_in_flight(env: Env, event_id: int) -> bool:
    report = await A.audit(env.rt, event_id, outbox_grace_s=60, settle_s=0)
    return int(report.checked.get("undeliveredOutboxRows", 0)) == 0


async def test_transient_disagreement_is_not_reported(provider: Env) -> None:
    """Something wrong at the first look but repaired before the second is work in flight."""
    env = provider
    sales = await make_sales(env)
    key = f"{EventKeys(sales.event_id).base}:st"
    ghost = sales.seats[8]
    await seat_st(env, sales.event_id, ghost, f"S|{uuid.uuid4().hex}|ghost")

    async def repair_soon() -> None:
        await asyncio.sleep(0.2)
        await env.rt.redis.hdel(key, str(ghost))  # type: ignore[misc]

    repair = asyncio.create_task(repair_soon())
    report = await A.audit(env.rt, sales.event_id, settle_s=1.0)
    await repair
    assert report.ok, report.summary()
    assert not (await A.audit(env.rt, sales.event_id, settle_s=0)).discrepancies
    async with env.rt.db.read_sessions() as s:
        assert (await s.execute(select(Seat.status).where(col(Seat.id) == ghost))
                ).scalar_one() == "AVAILABLE"
