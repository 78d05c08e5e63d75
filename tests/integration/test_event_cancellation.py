"""Cancelling an event with many confirmed orders: the refund job is SIGKILLed half-way, a
new worker takes over, and every order is refunded exactly once; afterwards the database,
Redis, the outbox and the projection agree."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from tests.conftest import Env
from tests.integration.admin_helpers import admin_client, buy_many, tickets_of
from tests.integration.helpers import assert_error, eventually
from ticketing_app.db.models import (
    BackgroundJobRecord,
    Event,
    Order,
    OutboxEvent,
    Payment,
    SalesProjection,
    Seat,
    Ticket,
)

pytestmark = [pytest.mark.integration, pytest.mark.fault]

ORDERS = 30
PACE = "20"  # refunds per second while the test watches, so the kill lands half-way


async def _job(env: Env, job_id: int) -> BackgroundJobRecord:
    async with env.rt.db.read_sessions() as s:
        job = await s.get(BackgroundJobRecord, job_id)
    assert job is not None
    return job


async def test_cancellation_refunds_every_order_once_across_a_worker_kill(
        provider: Env) -> None:
    env = provider
    stack = env.stack
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=5, cols=20)
    seats = await env.seat_ids(event_id)
    groups = [seats[2 * i:2 * i + 2] for i in range(ORDERS)]
    order_ids = await buy_many(env, event_id, groups)
    # Someone is still holding a seat and one order is awaiting payment when it happens.
    async with env.client("late-holder") as c:
        assert (await c.post("/api/reservations", json={
            "eventId": event_id, "seatId": seats[-1]})).status_code == 201
    async with env.client("unpaid") as c:
        assert (await c.post("/api/reservations", json={
            "eventId": event_id, "seatId": seats[-3]})).status_code == 201
        r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": [seats[-3]]},
                         headers={"Idempotency-Key": f"unpaid-{event_id}"})
        assert r.status_code == 201, r.text
        unpaid = r.json()["orderId"]
    # The jobs worker refunds at a pace we can interrupt.
    stack.procs["worker"].kill()
    stack.start_process("worker", CANCEL_REFUNDS_PER_SECOND=PACE, CANCEL_JOB_STALE_S="2")
    try:
        async with admin_client(env) as c:
            assert_error(await c.post(f"/api/admin/events/{event_id}/cancel",
                                      json={"reason": " "}), 422, "VALIDATION_FAILED")
            r = await c.post(f"/api/admin/events/{event_id}/cancel",
                             json={"reason": "The headliner is ill"})
            assert r.status_code == 202, r.text
            job_id = r.json()["jobId"]
            assert r.json()["total"] == ORDERS
            # Sales closed and holds ended at once, before any refund.
            snap = await env.rt.holds.snapshot(event_id)
            assert snap is not None and snap.public_code(seats[-1]) == "A"
            async with env.client("too-late") as b:
                assert_error(await b.post("/api/reservations", json={
                    "eventId": event_id, "seatId": seats[-2]}), 409, "SALES_CLOSED")

            async def half_way() -> bool:
                return ORDERS // 4 <= (await _job(env, job_id)).done < ORDERS

            await eventually(half_way, timeout=60, interval=0.05)
            stack.procs["worker"].kill()  # SIGKILL mid-job
            killed_at = (await _job(env, job_id)).done
            assert killed_at < ORDERS
            # Cancelling again returns the same job; the admin page watches it.
            again = await c.post(f"/api/admin/events/{event_id}/cancel",
                                 json={"reason": "again"})
            assert again.json()["jobId"] == job_id
            stack.start_process("worker", CANCEL_JOB_STALE_S="2")

            async def finished() -> bool:
                return (await c.get(f"/api/admin/jobs/{job_id}")).json()["status"] == "DONE"

            await eventually(finished, timeout=90, interval=0.3)
            final = (await c.get(f"/api/admin/jobs/{job_id}")).json()
            assert final["done"] == final["total"] == ORDERS
    except BaseException:
        stack.procs["worker"].kill()
        stack.start_process("worker")  # leave the session's stack as it was
        raise

    async with env.rt.db.read_sessions() as s:
        ev = await s.get(Event, event_id)
        orders = list((await s.execute(select(Order).where(Order.event_id == event_id)))
                      .scalars())
        refunds = Counter(e.aggregate_id for e in (await s.execute(select(OutboxEvent).where(
            OutboxEvent.event_type == "ORDER_REFUNDED",
            OutboxEvent.partition_key == str(event_id)))).scalars())
        payments = {p.status for p in (await s.execute(select(Payment).where(
            Payment.order_id.in_(order_ids)))).scalars()}  # type: ignore[attr-defined]
        seat_states = Counter(x.status for x in (await s.execute(
            select(Seat).where(Seat.event_id == event_id))).scalars())
        tickets = Counter(t.status for t in (await s.execute(
            select(Ticket).where(Ticket.event_id == event_id))).scalars())
    assert ev is not None and ev.status == "CANCELLED"
    assert {o.id: o.status for o in orders if o.id != unpaid} == \
        dict.fromkeys(order_ids, "REFUNDED")
    assert next(o.status for o in orders if o.id == unpaid) == "CANCELLED"
    assert all(o.close_reason == "event cancelled" for o in orders)
    assert refunds == {str(o): 1 for o in order_ids}  # each order refunded exactly once
    assert payments == {"REFUNDED"}
    assert seat_states == {"AVAILABLE": len(seats)}
    assert tickets == {"REFUNDED": 2 * ORDERS}
    # Redis agrees with the database: nothing sold, nothing held, sales closed.
    snap = await env.rt.holds.snapshot(event_id)
    assert snap is not None and {snap.public_code(x) for x in seats} == {"A"}
    assert await env.rt.redis.hget(f"tk:{{e{event_id}}}:meta", "onsale") == b"0"

    async def projected() -> SalesProjection | None:
        async with env.rt.db.read_sessions() as s:
            row = await s.get(SalesProjection, event_id)
        return row if row is not None and row.orders_refunded == ORDERS else None

    row = await eventually(projected, timeout=60)
    assert row.orders_confirmed == 0 and row.revenue == 0 and row.seats_sold == 0
    # Buyers see it: the event is cancelled and their tickets are refunded.
    mine = await tickets_of(env, f"fan-{event_id}-0")
    assert {(t["eventStatus"], t["status"]) for t in mine} == {("CANCELLED", "REFUNDED")}
    # The reliability engineer's reconciliation agrees: Redis, the database and the projection.
    from ticketing_app.services.audit import audit

    report = await audit(env.rt, event_id, outbox_grace_s=30)
    assert report.ok, report.summary()
