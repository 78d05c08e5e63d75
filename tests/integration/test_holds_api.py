"""Holds through the REST API against real Valkey and a real database."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx

from tests.conftest import Env
from tests.integration.helpers import assert_error, eventually, pay


async def test_race_of_200_clients_one_winner_per_seat(env: Env) -> None:
    event_id = await env.new_event(rows=2, cols=10, max_seats_per_buyer=50)
    seats = (await env.seat_ids(event_id))[:10]
    limits = httpx.Limits(max_connections=250)
    async with env.client(limits=limits) as client:
        barrier = asyncio.Barrier(200)

        async def buyer(i: int) -> tuple[int, int]:
            seat = seats[i % len(seats)]
            await barrier.wait()
            r = await client.post("/api/reservations", json={"eventId": event_id, "seatId": seat},
                                  headers={"X-Caller-Id": f"racer-{i}"})
            return seat, r.status_code

        results = await asyncio.gather(*(buyer(i) for i in range(200)))
    winners = Counter(seat for seat, code in results if code == 201)
    assert winners == dict.fromkeys(seats, 1)
    assert Counter(code for _, code in results) == {201: 10, 409: 190}
    snap = await env.rt.holds.snapshot(event_id)
    assert snap is not None
    assert sorted(s for s, st in snap.states.items() if st.code == "H") == sorted(seats)


async def test_multi_seat_hold_is_all_or_nothing(env: Env) -> None:
    event_id = await env.new_event()
    a, b, c = (await env.seat_ids(event_id))[:3]
    async with env.client("alice") as alice, env.client("bob") as bob:
        assert (await alice.post("/api/reservations",
                                 json={"eventId": event_id, "seatId": b})).status_code == 201
        r = await bob.post("/api/reservations", json={"eventId": event_id, "seatIds": [a, b, c]})
        body = assert_error(r, 409, "RESERVATION_CONFLICT")
        assert body["details"] == [{"seatId": b, "status": "HELD"}]
        # Nothing of bob's request was taken.
        mine = await bob.get(f"/api/reservations/{event_id}/mine")
        assert mine.json() == []
        r = await bob.post("/api/reservations", json={"eventId": event_id, "seatIds": [a, c]})
        assert r.status_code == 201 and r.json()["seatIds"] == [a, c]


async def test_hold_expires_and_becomes_available_to_everyone(env: Env) -> None:
    event_id = await env.new_event(hold_min_s=1, hold_default_s=1)
    seat = (await env.seat_ids(event_id))[0]
    async with env.client("alice") as alice, env.client("bob") as bob:
        r = await alice.post("/api/reservations",
                             json={"eventId": event_id, "seatId": seat, "holdSeconds": 1})
        assert r.status_code == 201 and r.json()["holdSeconds"] == 1

        async def available() -> bool:
            seats = (await bob.get(f"/api/events/{event_id}/seats")).json()["seats"]
            return next(s for s in seats if s["id"] == seat)["status"] == "AVAILABLE"

        await eventually(available, timeout=5)

        async def swept() -> bool:
            return await env.rt.holds.owned_count(event_id, "alice") == 0

        # The sweeper released it: nobody's click was needed, and the holder's count is back.
        await eventually(swept, timeout=5)
        assert await env.rt.holds.my_seats(event_id, "alice") == []
        assert (await bob.post("/api/reservations",
                               json={"eventId": event_id, "seatId": seat})).status_code == 201
        assert_error(await alice.post(f"/api/reservations/{event_id}/{seat}/extend",
                                      json={"seconds": 30}), 403, "FORBIDDEN")


async def test_hold_seconds_are_clamped_to_event_bounds(env: Env) -> None:
    event_id = await env.new_event()
    s1, s2 = (await env.seat_ids(event_id))[:2]
    async with env.client("clamp") as c:
        assert (await c.post("/api/reservations", json={
            "eventId": event_id, "seatId": s1, "holdSeconds": 1})).json()["holdSeconds"] == 5
        assert (await c.post("/api/reservations", json={
            "eventId": event_id, "seatId": s2, "holdSeconds": 9999})).json()["holdSeconds"] == 120


async def test_only_the_holder_can_release_or_extend(env: Env) -> None:
    event_id = await env.new_event()
    seat = (await env.seat_ids(event_id))[0]
    async with env.client("owner") as owner, env.client("thief") as thief:
        assert (await owner.post("/api/reservations",
                                 json={"eventId": event_id, "seatId": seat})).status_code == 201
        assert_error(await thief.delete(f"/api/reservations/{event_id}/{seat}"), 403, "FORBIDDEN")
        assert_error(await thief.post(f"/api/reservations/{event_id}/{seat}/extend",
                                      json={"seconds": 60}), 403, "FORBIDDEN")
        r = await owner.post(f"/api/reservations/{event_id}/{seat}/extend", json={"seconds": 60})
        assert r.status_code == 200 and r.json()["expiresAt"].endswith("Z")
        assert (await owner.delete(f"/api/reservations/{event_id}/{seat}")).status_code == 204
        assert_error(await owner.delete(f"/api/reservations/{event_id}/{seat}"), 410,
                     "RESERVATION_EXPIRED")
        assert_error(await owner.post(f"/api/reservations/{event_id}/{seat}/extend", json={}),
                     410, "RESERVATION_EXPIRED")


async def test_per_buyer_limit(env: Env) -> None:
    event_id = await env.new_event(max_seats_per_buyer=3)
    seats = await env.seat_ids(event_id)
    async with env.client("greedy") as c:
        assert (await c.post("/api/reservations",
                             json={"eventId": event_id, "seatIds": seats[:3]})).status_code == 201
        assert_error(await c.post("/api/reservations",
                                  json={"eventId": event_id, "seatId": seats[5]}),
                     422, "LIMIT_EXCEEDED")


async def test_closed_sales_and_unknown_event(env: Env) -> None:
    event_id = await env.new_event(status="CLOSED")
    seat = (await env.seat_ids(event_id))[0]
    async with env.client("x") as c:
        assert_error(await c.post("/api/reservations", json={"eventId": event_id, "seatId": seat}),
                     409, "SALES_CLOSED")
        assert_error(await c.post("/api/reservations", json={"eventId": 999999, "seatId": 1}),
                     404, "EVENT_NOT_FOUND")
        assert_error(await c.get("/api/events/999999"), 404, "EVENT_NOT_FOUND")
        assert_error(await c.get("/api/events/999999/seats"), 404, "EVENT_NOT_FOUND")


async def test_extending_or_releasing_a_seat_in_an_order_is_seat_in_order(
    provider: Env,
) -> None:
    """A seat already in an order (awaiting payment, or paid) is neither a hold that expired
    nor someone else's hold: 409 SEAT_IN_ORDER with the standard body (issue 15)."""
    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event()
    a, b = (await env.seat_ids(event_id))[:2]
    async with env.client("orderer") as c, env.client("other") as other:
        assert (await c.post("/api/reservations", json={
            "eventId": event_id, "seatIds": [a, b]})).status_code == 201
        r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": [a]},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 201, r.text
        for who in (c, other):
            body = assert_error(await who.delete(f"/api/reservations/{event_id}/{a}"), 409,
                                "SEAT_IN_ORDER")
            assert body["details"] == [{"seatId": a, "status": "ORDERED"}]
            body = assert_error(await who.post(f"/api/reservations/{event_id}/{a}/extend",
                                               json={"seconds": 60}), 409, "SEAT_IN_ORDER")
            assert body["details"] == [{"seatId": a, "status": "ORDERED"}]
        # The seat held beside it is still an ordinary hold.
        assert (await c.post(f"/api/reservations/{event_id}/{b}/extend",
                             json={"seconds": 60})).status_code == 200
        assert await pay(c, int(r.json()["orderId"])) == "success"
        body = assert_error(await c.delete(f"/api/reservations/{event_id}/{a}"), 409,
                            "SEAT_IN_ORDER")
        assert body["details"] == [{"seatId": a, "status": "SOLD"}]
        body = assert_error(await c.post(f"/api/reservations/{event_id}/{a}/extend", json={}),
                            409, "SEAT_IN_ORDER")
        assert body["details"] == [{"seatId": a, "status": "SOLD"}]
