"""Buyer limits across orders: holds, seats in open orders and bought seats count together
against the event's per-buyer limit, enforced inside the atomic scripts, so parallel requests
of one buyer can never get past it."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.conftest import Env
from tests.integration.helpers import assert_error
from tests.integration.onsale_helpers import event_with, redis_only, seats_of
from ticketing_app.holds.keys import ACTIVE_EVENTS
from ticketing_app.services.onsale_settings import OnSaleSettings

LIMIT = 5


async def test_holds_orders_and_sales_count_together_under_parallel_requests(
    provider: Env,
) -> None:
    env = provider
    await env.set_provider_mode("success")
    event_id = await event_with(env, 4, 10, max_seats_per_buyer=LIMIT)
    seats = await env.seat_ids(event_id)
    me = "collector"
    async with env.client(me) as c:
        # Two seats bought, one in an order awaiting payment: three count already.
        assert (await c.post("/api/reservations", json={"eventId": event_id,
                                                        "seatIds": seats[0:2]})).status_code == 201
        paid = (await c.post("/api/orders", json={"eventId": event_id, "seatIds": seats[0:2]},
                             headers={"Idempotency-Key": uuid.uuid4().hex})).json()
        r = await c.post("/api/payments/authorize", json={"orderId": paid["orderId"]})
        assert r.json()["status"] == "success", r.text
        assert (await c.post("/api/reservations", json={"eventId": event_id,
                                                        "seatId": seats[2]})).status_code == 201
        r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": [seats[2]]},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 201, r.text
    assert await env.rt.holds.owned_count(event_id, me) == 3

    peak = 0
    done = asyncio.Event()

    async def monitor() -> None:
        nonlocal peak
        while not done.is_set():
            snap = await env.rt.holds.snapshot(event_id)
            assert snap is not None
            peak = max(peak, len(seats_of(snap, me)))
            await asyncio.sleep(0.005)

    # Forty requests of the same buyer at once, from several connections: single seats,
    # pairs and best-available asks, all on distinct seats.
    requests: list[tuple[str, dict[str, object]]] = (
        [("/api/reservations", {"eventId": event_id, "seatId": s}) for s in seats[20:40]]
        + [("/api/reservations", {"eventId": event_id, "seatIds": seats[i:i + 2]})
           for i in range(10, 20, 2)]
        + [("/api/reservations/best", {"eventId": event_id, "quantity": 1 + i % 2})
           for i in range(15)]
    )
    barrier = asyncio.Barrier(len(requests))
    watcher = asyncio.create_task(monitor())
    async with env.client(me, limits=httpx.Limits(max_connections=60)) as c:

        async def fire(path: str, body: dict[str, object]) -> httpx.Response:
            await barrier.wait()
            return await c.post(path, json=body)

        responses = await asyncio.gather(*(fire(p, b) for p, b in requests))
    done.set()
    await watcher
    granted = 0
    for r in responses:
        if r.status_code == 201:
            granted += len(r.json()["seatIds"])
        else:
            assert_error(r, 422, "LIMIT_EXCEEDED")
    assert granted == LIMIT - 3
    snap = await env.rt.holds.snapshot(event_id)
    assert snap is not None
    assert len(seats_of(snap, me)) == LIMIT == await env.rt.holds.owned_count(event_id, me)
    assert peak <= LIMIT
    # The organiser lowers the limit: nothing is taken away, nothing more is given.
    await env.rt.onsale.update("test", event_id, OnSaleSettings(max_seats_per_buyer=4))
    async with env.client(me) as c:
        body = assert_error(await c.post("/api/reservations", json={"eventId": event_id,
                                                                    "seatId": seats[9]}),
                            422, "LIMIT_EXCEEDED")
        assert "at most 4" in body["message"] and "you have 5" in body["message"]


async def test_lapsed_holds_stop_counting_before_the_sweeper_runs(env: Env) -> None:
    redis_only(env)
    event_id = await event_with(env, 1, 6, max_seats_per_buyer=2, hold_min_s=1)
    seats = await env.seat_ids(event_id)
    async with env.client("quick") as c:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatIds": seats[:2],
                                                    "holdSeconds": 1})
        assert r.status_code == 201
        # Keep every sweeper away from this event: only the hold script itself can notice.
        await env.rt.redis.srem(ACTIVE_EVENTS, event_id)  # type: ignore[misc]
        try:
            await asyncio.sleep(1.3)
            assert await env.rt.holds.owned_count(event_id, "quick") == 2  # not swept
            r = await c.post("/api/reservations", json={"eventId": event_id,
                                                        "seatIds": seats[3:5]})
            assert r.status_code == 201, r.text
        finally:
            await env.rt.redis.sadd(ACTIVE_EVENTS, event_id)  # type: ignore[misc]
    snap = await env.rt.holds.snapshot(event_id)
    assert snap is not None and seats_of(snap, "quick") == set(seats[3:5])
    assert await env.rt.holds.owned_count(event_id, "quick") == 2
