"""Orders (idempotency) and the payment saga, end to end through real processes: the API, the
ARQ worker, the outbox relay, the Kafka-protocol broker and the consumers."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from tests.conftest import Env
from tests.integration.helpers import assert_error, eventually, pay
from ticketing_app.db.models import (
    Order,
    OutboxEvent,
    Payment,
    ProcessedEvent,
    SalesProjection,
    Seat,
    Ticket,
)


async def _hold(env: Env, buyer: str, event_id: int, seats: list[int]) -> None:
    async with env.client(buyer) as c:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatIds": seats})
        assert r.status_code == 201, r.text


async def test_idempotent_order_replay_and_key_misuse(env: Env) -> None:
    event_id = await env.new_event()
    seats = (await env.seat_ids(event_id))[:2]
    await _hold(env, "idem", event_id, seats)
    key = uuid.uuid4().hex
    async with env.client("idem") as c:
        first = await c.post("/api/orders", json={"eventId": event_id, "seatIds": seats},
                             headers={"Idempotency-Key": key})
        assert first.status_code == 201
        body = first.json()
        assert body["status"] == "CREATED" and body["seatIds"] == seats
        assert body["total"] == 100000 and body["currency"] == "KRW"
        again = await c.post("/api/orders", json={"eventId": event_id, "seatIds": seats},
                             headers={"Idempotency-Key": key})
        assert again.status_code == 201 and again.json() == body
        assert_error(await c.post("/api/orders", json={"eventId": event_id, "seatIds": seats[:1]},
                                  headers={"Idempotency-Key": key}), 422,
                     "IDEMPOTENCY_KEY_REUSED")
        missing = assert_error(await c.post("/api/orders",
                                            json={"eventId": event_id, "seatIds": seats}),
                               400, "BAD_REQUEST")
        assert missing["details"][0]["field"] == "Idempotency-Key"
    # Keys are per buyer: another buyer's same key is a separate request (and its seats are in
    # the first buyer's order: a conflict).
    async with env.client("other") as c:
        assert_error(await c.post("/api/orders", json={"eventId": event_id, "seatIds": seats},
                                  headers={"Idempotency-Key": key}), 409, "RESERVATION_CONFLICT")
    async with env.rt.db.read_sessions() as s:
        n = (await s.execute(select(func.count()).select_from(Order).where(
            Order.idempotency_key == key))).scalar_one()
    assert n == 1


async def test_concurrent_retries_with_one_key_make_one_order(env: Env) -> None:
    event_id = await env.new_event()
    seats = (await env.seat_ids(event_id))[:1]
    await _hold(env, "doubleclick", event_id, seats)
    key = uuid.uuid4().hex
    async with env.client("doubleclick") as c:
        responses = await asyncio.gather(*(
            c.post("/api/orders", json={"eventId": event_id, "seatIds": seats},
                   headers={"Idempotency-Key": key}) for _ in range(8)))
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {201, 409} and 201 in codes
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "IDEMPOTENCY_IN_PROGRESS")
    assert len({r.json()["orderId"] for r in responses if r.status_code == 201}) == 1


async def test_only_held_seats_can_be_ordered(env: Env) -> None:
    """Seats someone else holds are the conflict they are (409, naming them: the caller never
    held them); 410 is for the caller's own hold that is gone (issue 15)."""
    event_id = await env.new_event(hold_min_s=1)
    a, b, c3, d = (await env.seat_ids(event_id))[:4]
    await _hold(env, "holder", event_id, [a])
    async with env.client("sneaky") as c:
        r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": [a]},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
        body = assert_error(r, 409, "RESERVATION_CONFLICT")
        assert body["details"] == [{"seatId": a, "status": "HELD"}]
        r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": [b]},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
        assert_error(r, 410, "RESERVATION_EXPIRED")
        # Its own hold that lapsed: expired, also when someone else's seat is in the order.
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": c3,
                                                    "holdSeconds": 1})
        assert r.status_code == 201, r.text

        async def lapsed() -> bool:
            snap = await env.rt.holds.snapshot(event_id)
            return snap is not None and snap.public_code(c3) == "A"

        await eventually(lapsed, timeout=10)
        r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": [c3]},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
        assert_error(r, 410, "RESERVATION_EXPIRED")
        await _hold(env, "sneaky", event_id, [d])
        r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": [a, d]},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
        body = assert_error(r, 409, "RESERVATION_CONFLICT")
        assert body["details"] == [{"seatId": a, "status": "HELD"}]


async def _order(env: Env, buyer: str, event_id: int, seats: list[int]) -> int:
    await _hold(env, buyer, event_id, seats)
    async with env.client(buyer) as c:
        r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": seats},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 201, r.text
        return int(r.json()["orderId"])


async def test_payment_success_sells_seats_everywhere(provider: Env) -> None:
    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event()
    seats = (await env.seat_ids(event_id))[:2]
    order_id = await _order(env, "payer", event_id, seats)
    async with env.client("payer") as c:
        assert await pay(c, order_id) == "success"
        assert (await c.get(f"/api/orders/{order_id}")).json()["status"] == "CONFIRMED"
        # Paying again does not charge again: the same payment, the same answer.
        r2 = await c.post("/api/payments/authorize", json={"orderId": order_id})
        r3 = await c.post("/api/payments/authorize", json={"orderId": order_id})
        assert r2.json()["status"] == "success", r2.text
        assert r2.json()["paymentId"] == r3.json()["paymentId"]
        seat_map = (await c.get(f"/api/events/{event_id}/seats")).json()["seats"]
        assert {s["id"]: s["status"] for s in seat_map if s["id"] in seats} == \
            dict.fromkeys(seats, "SOLD")
    async with env.client("intruder") as c:
        assert_error(await c.get(f"/api/orders/{order_id}"), 403, "FORBIDDEN")
        assert_error(await c.post("/api/payments/authorize", json={"orderId": order_id}), 403,
                     "FORBIDDEN")
        assert_error(await c.post("/api/reservations",
                                  json={"eventId": event_id, "seatId": seats[0]}),
                     422, "VALIDATION_FAILED")
    async with env.rt.db.read_sessions() as s:
        db_seats = (await s.execute(select(Seat).where(Seat.event_id == event_id,
                                                       Seat.status == "SOLD"))).scalars().all()
        assert sorted(x.id for x in db_seats) == sorted(seats)
        assert all(x.order_id == order_id for x in db_seats)
        tickets = (await s.execute(select(Ticket).where(Ticket.order_id == order_id))).scalars()
        assert len(list(tickets)) == 2

    async def projected() -> SalesProjection | None:
        async with env.rt.db.read_sessions() as s:
            row = await s.get(SalesProjection, event_id)
            return row if row is not None and row.orders_confirmed == 1 else None

    row = await eventually(projected, timeout=30)
    assert row.seats_sold == 2 and row.revenue == 100000 and row.payments_success == 1


async def test_payment_failure_compensates(provider: Env) -> None:
    env = provider
    await env.set_provider_mode("fail")
    event_id = await env.new_event()
    seats = (await env.seat_ids(event_id))[:2]
    order_id = await _order(env, "unlucky", event_id, seats)
    async with env.client("unlucky") as c:
        assert await pay(c, order_id) == "fail"
        r = await c.post("/api/payments/authorize", json={"orderId": order_id})
        order = (await c.get(f"/api/orders/{order_id}")).json()
        assert order["status"] == "CANCELLED" and "failed" in order["closeReason"]
        # The seats are back on sale for everyone.
        seat_map = (await c.get(f"/api/events/{event_id}/seats")).json()["seats"]
        assert {s["id"]: s["status"] for s in seat_map if s["id"] in seats} == \
            dict.fromkeys(seats, "AVAILABLE")
        # Asking again replays the outcome; no second charge is attempted.
        again = await c.post("/api/payments/authorize", json={"orderId": order_id})
        assert again.json()["status"] == "fail"
        assert again.json()["paymentId"] == r.json()["paymentId"]
    async with env.client("next-buyer") as c:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatIds": seats})
        assert r.status_code == 201
    async with env.rt.db.read_sessions() as s:
        p = (await s.execute(select(Payment).where(Payment.order_id == order_id))).scalar_one()
        assert p.status == "FAILED"
        types = set((await s.execute(select(OutboxEvent.event_type).where(
            OutboxEvent.aggregate_id == str(order_id)))).scalars())
    assert {"ORDER_CREATED", "PAYMENT_FAILED", "ORDER_CANCELLED"} <= types


async def test_compensation_twice_gives_the_same_end_state(provider: Env) -> None:
    env = provider
    await env.set_provider_mode("fail")
    event_id = await env.new_event()
    seats = (await env.seat_ids(event_id))[:1]
    order_id = await _order(env, "twice", event_id, seats)
    async with env.client("twice") as c:
        assert await pay(c, order_id) == "fail"
    async with env.rt.db.read_sessions() as s:
        pid = (await s.execute(select(Payment.id).where(Payment.order_id == order_id))
               ).scalar_one()
    from ticketing_app.domain.orders import PaymentStatus

    await env.rt.orders.apply_payment_failure(pid, PaymentStatus.FAILED, "again")
    await env.rt.orders.apply_payment_failure(pid, PaymentStatus.TIMED_OUT, "and again")
    async with env.rt.db.read_sessions() as s:
        assert (await s.get(Order, order_id)).status == "CANCELLED"  # type: ignore[union-attr]
        assert (await s.get(Payment, pid)).status == "FAILED"  # type: ignore[union-attr]
        n = (await s.execute(select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.aggregate_id == str(order_id),
            OutboxEvent.event_type == "ORDER_CANCELLED"))).scalar_one()
    assert n == 1


async def test_relay_delivers_and_consumers_drop_redelivered_events(env: Env) -> None:
    """A message delivered twice (the relay re-sends it) is applied once."""
    event_id = await env.new_event()
    seats = (await env.seat_ids(event_id))[:1]
    order_id = await _order(env, "dupe", event_id, seats)

    async def delivered() -> OutboxEvent | None:
        async with env.rt.db.read_sessions() as s:
            row = (await s.execute(select(OutboxEvent).where(
                OutboxEvent.aggregate_id == str(order_id),
                OutboxEvent.event_type == "ORDER_CREATED"))).scalar_one()
            done = await s.get(ProcessedEvent, ("sales-projection", row.event_uuid))
            return row if row.status == "SENT" and done is not None else None

    row = await eventually(delivered, timeout=30)

    async def created_count() -> int:
        async with env.rt.db.read_sessions() as s:
            proj = await s.get(SalesProjection, event_id)
            return proj.orders_created if proj else 0

    assert await created_count() == 1
    # Re-send the very same envelope through Kafka, as a relay crash would.
    import json

    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=env.stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(env.rt.settings.kafka_topic,
                                     json.dumps(row.payload).encode(),
                                     key=str(event_id).encode())
        # A second, new event after it proves the consumer moved past the duplicate.
        await _hold(env, "dupe2", event_id, (await env.seat_ids(event_id))[1:2])
        async with env.client("dupe2") as c:
            await c.post("/api/orders", json={"eventId": event_id,
                                              "seatIds": (await env.seat_ids(event_id))[1:2]},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
    finally:
        await producer.stop()

    async def two_created() -> bool:
        return await created_count() == 2

    await eventually(two_created, timeout=30)
    assert await created_count() == 2


async def test_projection_rebuilt_from_the_outbox_matches_the_live_one(provider: Env) -> None:
    """The outbox is the durable record: replaying it through the projection's handler gives
    the same totals as the Kafka-fed projection."""
    from backend_jobs.replay import rebuild_projection

    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event()
    seats = await env.seat_ids(event_id)
    for i, buyer in enumerate(("r1", "r2")):
        order_id = await _order(env, buyer, event_id, seats[i * 2:i * 2 + 2])
        async with env.client(buyer) as c:
            assert await pay(c, order_id) == "success"

    async def live() -> SalesProjection | None:
        async with env.rt.db.read_sessions() as s:
            row = await s.get(SalesProjection, event_id)
            return row if row is not None and row.orders_confirmed == 2 else None

    before = await eventually(live, timeout=30)
    await rebuild_projection(env.rt)
    async with env.rt.db.read_sessions() as s:
        after = await s.get(SalesProjection, event_id)
    assert after is not None
    for field in ("orders_created", "orders_confirmed", "seats_sold", "revenue",
                  "payments_success"):
        assert getattr(after, field) == getattr(before, field), field
    assert after.seats_sold == 4 and after.revenue == 200000


async def test_payment_and_extend_bodies_refuse_unknown_fields(env: Env) -> None:
    """Like every other request body, `authorize` and `extend` refuse fields they do not know
    (422 VALIDATION_FAILED naming them) instead of ignoring a typo such as `orderID`
    (issue 15)."""
    event_id = await env.new_event()
    seat = (await env.seat_ids(event_id))[0]
    order_id = await _order(env, "strict", event_id, [seat])
    async with env.client("strict") as c:
        body = assert_error(await c.post("/api/payments/authorize", json={
            "orderId": order_id, "amount": 1}), 422, "VALIDATION_FAILED")
        assert body["details"] == [{"field": "amount", "message": "Extra inputs are not permitted"}]
        body = assert_error(await c.post(
            f"/api/reservations/{event_id}/{seat}/extend", json={"secs": 60}),
            422, "VALIDATION_FAILED")
        assert body["details"] == [{"field": "secs", "message": "Extra inputs are not permitted"}]
        # Nothing was started by the refused request.
        assert (await c.get(f"/api/orders/{order_id}")).json()["status"] == "CREATED"
    async with env.rt.db.read_sessions() as s:
        n = (await s.execute(select(func.count()).select_from(Payment).where(
            Payment.order_id == order_id))).scalar_one()
    assert n == 0
