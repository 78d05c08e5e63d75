"""The risk that refusing holds from a process's copy of the seat map brings: false refusals.
Two API processes on one Redis (as behind a load balancer); a seat freed through one, or by
the clock, or behind a lost pub/sub message, or by a Redis restart, must become holdable
through the other within the live-sync delay. Each case is raced several times
(COPY_RACE_ROUNDS)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from tests.conftest import TEST_ENV
from tests.integration.helpers import on_sale_event
from tests.integration.inprocess import stack_settings
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.holds.keys import EventKeys
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration

ROUNDS = int(os.environ.get("COPY_RACE_ROUNDS", "5"))
SYNC_DEADLINE_S = 3.0  # live-sync delay, plus one resync by version (the mirror checks 1/s)


@pytest.fixture(scope="module")
def two_apis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    db = tmp_path_factory.mktemp("copy") / "copy.db"
    st = Stack(database_url=f"sqlite+aiosqlite:///{db}",
               extra_env={**TEST_ENV}).start_services(kafka=False)
    try:
        st.migrate()
        st.start_api("api-a")
        st.start_api("api-b")
        yield st
    finally:
        st.stop()


@pytest_asyncio.fixture(scope="module")
async def rt(two_apis: Stack) -> AsyncIterator[Runtime]:
    runtime = await create_runtime(stack_settings(two_apis.env()))
    try:
        yield runtime
    finally:
        await runtime.close()


def api(st: Stack, name: str, buyer: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{st.procs[name].port}",
                             headers={"X-Caller-Id": buyer}, timeout=10)


async def new_event(rt: Runtime) -> tuple[int, list[int]]:
    return await on_sale_event(rt, 1, 10, hold_min_s=1)


async def hold(c: httpx.AsyncClient, event_id: int, seat: int, secs: int = 60) -> int:
    r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": seat,
                                               "holdSeconds": secs})
    assert r.status_code in (201, 409), r.text
    return r.status_code


async def refused_until_copied(c: httpx.AsyncClient, event_id: int, seat: int) -> None:
    """Asks until the other process refuses from its copy (its counter moves), so the case
    below really starts from a copy that shows the seat taken."""
    for _ in range(200):
        before = await copy_refusals(c)
        assert await hold(c, event_id, seat) == 409
        if await copy_refusals(c) > before:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the process never refused from its copy")


async def copy_refusals(c: httpx.AsyncClient) -> float:
    text = (await c.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("tk_hold_refused_from_copy_total"):
            return float(line.split()[-1])
    return 0.0


async def holdable_within(c: httpx.AsyncClient, event_id: int, seat: int,
                          deadline_s: float) -> float:
    """Seconds until the seat was held through `c` (fails after the deadline)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline_s:
        if await hold(c, event_id, seat) == 201:
            return time.monotonic() - t0
        await asyncio.sleep(0.02)
    raise AssertionError(f"seat {seat} still refused {deadline_s}s after it was freed")


async def test_a_released_seat_is_holdable_through_the_other_process(
    two_apis: Stack, rt: Runtime,
) -> None:
    event_id, seats = await new_event(rt)
    for i in range(ROUNDS):
        seat = seats[i % len(seats)]
        a_buyer, b_buyer = f"a{i}-{uuid.uuid4().hex[:4]}", f"b{i}-{uuid.uuid4().hex[:4]}"
        async with api(two_apis, "api-a", a_buyer) as a, api(two_apis, "api-b", b_buyer) as b:
            assert await hold(a, event_id, seat) == 201
            await refused_until_copied(b, event_id, seat)
            r = await a.delete(f"/api/reservations/{event_id}/{seat}")
            assert r.status_code == 204
            await holdable_within(b, event_id, seat, SYNC_DEADLINE_S)
            assert (await b.delete(f"/api/reservations/{event_id}/{seat}")).status_code == 204


async def test_an_expired_hold_is_holdable_through_the_other_process(
    two_apis: Stack, rt: Runtime,
) -> None:
    event_id, seats = await new_event(rt)
    for i in range(min(ROUNDS, 3)):
        seat = seats[i]
        async with api(two_apis, "api-a", f"a{i}-{uuid.uuid4().hex[:4]}") as a, \
                api(two_apis, "api-b", f"b{i}-{uuid.uuid4().hex[:4]}") as b:
            r = await a.post("/api/reservations", json={"eventId": event_id, "seatId": seat,
                                                       "holdSeconds": 2})
            assert r.status_code == 201, r.text
            await refused_until_copied(b, event_id, seat)
            await holdable_within(b, event_id, seat, 2 + SYNC_DEADLINE_S)


async def test_a_lost_release_message_heals_by_version(two_apis: Stack, rt: Runtime) -> None:
    """The hold vanishes from Redis and the version moves, but no message is published (as if
    pub/sub dropped it, with nothing after it to reveal a gap): the copy notices from the
    version at its next checks and reloads."""
    event_id, seats = await new_event(rt)
    k = EventKeys(event_id)
    for i in range(min(ROUNDS, 3)):
        seat = seats[i]
        async with api(two_apis, "api-a", f"a{i}-{uuid.uuid4().hex[:4]}") as a, \
                api(two_apis, "api-b", f"b{i}-{uuid.uuid4().hex[:4]}") as b:
            assert await hold(a, event_id, seat) == 201
            await refused_until_copied(b, event_id, seat)
            async with rt.redis.pipeline(transaction=True) as pipe:
                pipe.hdel(f"{k.base}:st", str(seat))
                pipe.zrem(f"{k.base}:exp", str(seat))
                pipe.incr(f"{k.base}:ver")
                await pipe.execute()
            await holdable_within(b, event_id, seat, SYNC_DEADLINE_S)


async def test_after_redis_restarts_empty_freed_seats_are_holdable_everywhere(
    two_apis: Stack, rt: Runtime,
) -> None:
    event_id, seats = await new_event(rt)
    async with api(two_apis, "api-a", f"a-{uuid.uuid4().hex[:4]}") as a, \
            api(two_apis, "api-b", f"b-{uuid.uuid4().hex[:4]}") as b:
        assert await hold(a, event_id, seats[0]) == 201
        await refused_until_copied(b, event_id, seats[0])
        two_apis.restart_redis_empty()
        # Holds lived only in Redis: the event is rebuilt from the database without them.
        await holdable_within(b, event_id, seats[0], 15)
