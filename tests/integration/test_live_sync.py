"""Live sync over the real Reflex websocket (a web process serving the backend; clients speak
the browser's Socket.IO protocol, see bench/live_client.py):

- a reconnect storm: a few hundred sessions on one event drop and reconnect at once while seats
  keep changing, and each ends up showing the true seat map;
- Redis restarts empty while pages are open: the event is rebuilt from the database and its
  versions do not start again at 1 (they used to, and the web process then ignored every new
  change and kept showing holds that no longer existed).
- a broadcast carries only the seats that changed (with its base and version), and a page that
  missed the broadcast that moved the base asks for the map again and ends on the truth.

The deadlines are correctness deadlines (every session must converge), not speed checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import pytest_asyncio

from bench.live_client import LiveSession, Protocol, true_codes
from tests.conftest import TEST_ENV
from tests.integration.helpers import wait_ready
from tests.integration.inprocess import stack_settings
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.domain import errors
from ticketing_app.services.admin import GridSpec, TierSpec
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration

STORM_SESSIONS = 300
CONVERGE_S = 30.0


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    work = tmp_path_factory.mktemp("live")
    st = Stack(database_url=f"sqlite+aiosqlite:///{work}/live.db",
               extra_env={**TEST_ENV, "LOG_LEVEL": "WARNING"}).start_services(kafka=False)
    try:
        st.migrate()
        web = st.start_web_backend()
        url = f"http://127.0.0.1:{web.port}"
        wait_ready(url, web.log_path)
        yield st, url
    finally:
        st.stop()


@pytest_asyncio.fixture(scope="module")
async def rt(live_stack: tuple[Stack, str]) -> AsyncIterator[Runtime]:
    runtime = await create_runtime(stack_settings(live_stack[0].env()))
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture(scope="module")
def proto() -> Protocol:
    return Protocol.discover()


async def _event(rt: Runtime, rows: int, cols: int) -> tuple[int, list[int]]:
    venue = await rt.admin.create_venue("test", f"Live {uuid.uuid4().hex[:6]}",
                                        [GridSpec("Main", rows, cols)])
    ev = await rt.admin.create_event(
        "test", title=f"Live {uuid.uuid4().hex[:6]}", venue_id=int(venue.id or 0),
        starts_at=datetime.now(UTC) + timedelta(days=3), tiers=[TierSpec("Standard", 50000)],
        status="ON_SALE", max_seats_per_buyer=50, hold_default_s=120, hold_max_s=120)
    layout = await rt.catalog.layout(int(ev.id or 0), fresh=True)
    return int(ev.id or 0), [s.id for s in layout.seats]


async def _converged(rt: Runtime, event_id: int, sessions: list[LiveSession]) -> list[str]:
    """Waits until every session shows the truth; returns the sessions that never did."""
    deadline = time.monotonic() + CONVERGE_S
    while True:
        truth = await true_codes(rt, event_id)
        wrong = [s.token for s in sessions if s.codes != truth]
        if not wrong or time.monotonic() > deadline:
            return wrong
        await asyncio.sleep(0.25)


async def _churn(rt: Runtime, event_id: int, seats: list[int], stop: asyncio.Event) -> int:
    """Holds and releases seats until told to stop; returns the number of changes."""
    rng = random.Random(7)
    held: dict[int, str] = {}
    changes = 0
    while not stop.is_set():
        seat = rng.choice(seats)
        try:
            if seat in held:
                await rt.reservations.release(held.pop(seat), event_id, [seat])
            else:
                buyer = f"churn-{rng.randrange(20)}"
                await rt.reservations.hold(buyer, event_id, [seat], None)
                held[seat] = buyer
            changes += 1
        except errors.DomainError:
            pass
        await asyncio.sleep(0.01)
    return changes


async def test_a_reconnect_storm_ends_with_every_session_showing_the_truth(
    rt: Runtime, live_stack: tuple[Stack, str], proto: Protocol,
) -> None:
    _, url = live_stack
    event_id, seats = await _event(rt, 10, 20)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        sessions = [LiveSession(url, event_id, proto) for _ in range(STORM_SESSIONS)]
        for batch in range(0, len(sessions), 50):
            await asyncio.gather(*(s.connect(http) for s in sessions[batch:batch + 50]))
        assert await _converged(rt, event_id, sessions) == []
        stop = asyncio.Event()
        churn = asyncio.create_task(_churn(rt, event_id, seats, stop))
        try:
            await asyncio.sleep(1.0)
            # Every connection dies at once; every page reconnects at once, with changes
            # still flowing.
            await asyncio.gather(*(s.drop() for s in sessions))
            await asyncio.sleep(0.5)
            results = await asyncio.gather(*(s.connect(http, timeout=60) for s in sessions),
                                           return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            assert failed == [], failed[:3]
            await asyncio.sleep(1.0)
        finally:
            stop.set()
            changes = await churn
        assert changes > 20
        assert await _converged(rt, event_id, sessions) == []
        assert all(s.connects == 2 and not s.errors for s in sessions), \
            [s.errors for s in sessions if s.errors][:3]
        # And they are live again: one more change reaches every session.
        if (await true_codes(rt, event_id))[0] == "A":
            await rt.reservations.hold("after-storm", event_id, [seats[0]], None)
        else:
            await _release_any(rt, event_id, seats[0])
        assert await _converged(rt, event_id, sessions) == []
        await asyncio.gather(*(s.close() for s in sessions))


async def _release_any(rt: Runtime, event_id: int, seat: int) -> None:
    snap = await rt.catalog.snapshot(event_id)
    await rt.reservations.release(snap.states[seat].buyer, event_id, [seat])


async def test_pages_follow_an_event_rebuilt_after_redis_restarted_empty(
    rt: Runtime, live_stack: tuple[Stack, str], proto: Protocol,
) -> None:
    st, url = live_stack
    event_id, seats = await _event(rt, 4, 10)
    async with aiohttp.ClientSession() as http:
        sessions = [LiveSession(url, event_id, proto) for _ in range(5)]
        await asyncio.gather(*(s.connect(http) for s in sessions))
        # Many changes first, so the version before the restart is well above 1.
        for seat in seats[:30]:
            await rt.reservations.hold("before", event_id, [seat], None)
        for seat in seats[5:30]:
            await rt.reservations.release("before", event_id, [seat])
        assert await _converged(rt, event_id, sessions) == []
        before = sessions[0].version
        assert sum(c.startswith("H") for c in sessions[0].codes) == 5

        st.restart_redis_empty()  # the holds are gone; the database knows no hold
        await asyncio.sleep(1.0)
        with contextlib.suppress(Exception):
            await rt.redis.ping()  # let the test's own pool find the new server
        await rt.reservations.hold("after", event_id, [seats[20]], None)
        assert await _converged(rt, event_id, sessions) == []
        codes = sessions[0].codes
        assert codes[20].startswith("H") and sum(c.startswith("H") for c in codes) == 1
        assert sessions[0].version > before  # versions never go back, even after the loss
        # And the next change after the rebuild arrives as usual.
        await rt.reservations.release("after", event_id, [seats[20]])
        assert await _converged(rt, event_id, sessions) == []
        assert all(c == "A" for c in sessions[0].codes)
        await asyncio.gather(*(s.close() for s in sessions))


async def test_a_broadcast_carries_only_the_seats_that_changed(
    rt: Runtime, live_stack: tuple[Stack, str], proto: Protocol,
) -> None:
    _, url = live_stack
    event_id, seats = await _event(rt, 10, 20)
    async with aiohttp.ClientSession() as http:
        sessions = [LiveSession(url, event_id, proto) for _ in range(3)]
        await asyncio.gather(*(s.connect(http) for s in sessions))
        assert await _converged(rt, event_id, sessions) == []
        await rt.reservations.hold("first", event_id, [seats[0]], None)
        assert await _converged(rt, event_id, sessions) == []
        held = await rt.reservations.hold("second", event_id, [seats[7]], None)
        assert await _converged(rt, event_id, sessions) == []
        for s in sessions:
            last = s.broadcasts[-1]
            assert last["live_v"] == held.version and "live_s" not in last, last
            # The seats touched since the base (at most the two holds), not the map.
            assert set(last["live_o"]) <= {"0", "7"} and last["live_o"]["7"].startswith("H")
            assert last["live_b"] < last["live_v"] and s.resyncs == 0
        await asyncio.gather(*(s.close() for s in sessions))


async def test_a_page_that_missed_the_whole_map_asks_for_it_again(
    rt: Runtime, live_stack: tuple[Stack, str], proto: Protocol,
) -> None:
    _, url = live_stack
    event_id, seats = await _event(rt, 10, 20)  # 200 seats: the map goes whole after 25
    async with aiohttp.ClientSession() as http:
        hearing, deaf = LiveSession(url, event_id, proto), LiveSession(url, event_id, proto)
        await asyncio.gather(hearing.connect(http), deaf.connect(http))
        assert await _converged(rt, event_id, [hearing, deaf]) == []
        deaf.deaf = True  # its broadcasts are lost from here on
        for seat in seats[:40]:
            await rt.reservations.hold("many", event_id, [seat], None)
        assert await _converged(rt, event_id, [hearing]) == []
        assert any("live_s" in b for b in hearing.broadcasts[1:])  # the base moved
        deaf.deaf = False
        await rt.reservations.release("many", event_id, [seats[0]])
        assert await _converged(rt, event_id, [hearing, deaf]) == []
        assert deaf.resyncs >= 1 and hearing.resyncs == 0
        await asyncio.gather(hearing.close(), deaf.close())
