"""The web process as `ticketing up` serves it (two server processes, Reflex state in Redis),
driven without a browser over the page's own websocket protocol and over HTTP: seats held by
clicks obey the same abuse limits as the REST API (the per-buyer seat limit and the hold-rate
limit, counted by the same script), a websocket without the buyer cookie cannot hold, and the
REST API mounted in the web process answers unknown paths like the standalone API."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import aiohttp
import httpx
import pytest
import pytest_asyncio

from bench.live_client import LiveSession, Protocol
from tests.conftest import TEST_ENV
from tests.integration.helpers import assert_error, eventually, wait_ready
from tests.integration.inprocess import stack_settings
from tests.integration.onsale_helpers import seats_of
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.domain.event_rules import TierSpec
from ticketing_app.domain.identity import issue_buyer_token
from ticketing_app.domain.layouts import GridSpec
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration

HOLDS_PER_MINUTE = 5


@pytest.fixture(scope="module")
def web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    work = tmp_path_factory.mktemp("web")
    st = Stack(database_url=f"sqlite+aiosqlite:///{work}/web.db",
               extra_env={**TEST_ENV, "LOG_LEVEL": "WARNING",
                          "RATE_LIMIT_HOLDS_PER_MINUTE": str(HOLDS_PER_MINUTE)},
               ).start_services(kafka=False)
    try:
        st.migrate()
        web = st.start_web_backend(WEB_WORKERS="2")
        url = f"http://127.0.0.1:{web.port}"
        wait_ready(url, web.log_path)
        yield st, url
    finally:
        st.stop()


@pytest_asyncio.fixture(scope="module")
async def rt(web_stack: tuple[Stack, str]) -> AsyncIterator[Runtime]:
    runtime = await create_runtime(stack_settings(web_stack[0].env()))
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture(scope="module")
def proto() -> Protocol:
    return Protocol.discover()


async def new_event(rt: Runtime, per_buyer: int) -> tuple[int, list[int]]:
    venue = await rt.admin.create_venue("test", f"Web {uuid.uuid4().hex[:6]}",
                                        [GridSpec("Main", 2, 10)])
    ev = await rt.admin.create_event(
        "test", title=f"Web {uuid.uuid4().hex[:6]}", venue_id=int(venue.id or 0),
        starts_at=datetime.now(UTC) + timedelta(days=3), tiers=[TierSpec("Standard", 50000)],
        status="ON_SALE", max_seats_per_buyer=per_buyer)
    layout = await rt.catalog.layout(int(ev.id or 0), fresh=True)
    return int(ev.id or 0), [s.id for s in layout.seats]


@contextlib.asynccontextmanager
async def page(url: str, event_id: int, proto: Protocol, cookie: str = "",
               ) -> AsyncIterator[LiveSession]:
    async with aiohttp.ClientSession() as http:
        s = LiveSession(url, event_id, proto, cookie=cookie)
        await s.connect(http)
        assert await s.wait_for(lambda x: bool(x.codes), timeout=20), s.errors
        try:
            yield s
        finally:
            await s.close()


def buyer_cookie(rt: Runtime, buyer: str) -> str:
    return f"{rt.settings.buyer_cookie_name}={issue_buyer_token(rt.settings.secret_key, buyer)}"


async def click_all(s: LiveSession, seats: list[int]) -> None:
    for seat in seats:
        await s.emit("toggle_seat", {"seat_id": seat})
        await asyncio.sleep(0.05)


async def settled(rt: Runtime, event_id: int, buyer: str) -> set[int]:
    """The buyer's seats once clicks stopped changing them."""
    last: set[int] | None = None
    for _ in range(40):
        snap = await rt.holds.snapshot(event_id)
        assert snap is not None
        now = seats_of(snap, buyer)
        if now == last:
            return now
        last = now
        await asyncio.sleep(0.25)
    raise AssertionError("the clicks never settled")


async def test_clicks_obey_the_per_buyer_seat_limit(
    web_stack: tuple[Stack, str], rt: Runtime, proto: Protocol,
) -> None:
    _, url = web_stack
    event_id, seats = await new_event(rt, per_buyer=3)
    buyer = f"u_{uuid.uuid4().hex[:10]}"
    async with page(url, event_id, proto, buyer_cookie(rt, buyer)) as s:
        await click_all(s, seats[:6])
        assert len(await settled(rt, event_id, buyer)) == 3


async def test_clicks_count_against_the_hold_rate_limit(
    web_stack: tuple[Stack, str], rt: Runtime, proto: Protocol,
) -> None:
    from tests.integration.test_abuse_limits import same_minute

    _, url = web_stack
    event_id, seats = await new_event(rt, per_buyer=50)
    buyer = f"u_{uuid.uuid4().hex[:10]}"
    await same_minute()
    async with page(url, event_id, proto, buyer_cookie(rt, buyer)) as s:
        await click_all(s, seats[:12])
        held = await settled(rt, event_id, buyer)
        assert 0 < len(held) <= HOLDS_PER_MINUTE, held


async def test_a_websocket_without_the_buyer_cookie_cannot_hold(
    web_stack: tuple[Stack, str], rt: Runtime, proto: Protocol,
) -> None:
    _, url = web_stack
    event_id, seats = await new_event(rt, per_buyer=50)
    async with page(url, event_id, proto) as s:
        await click_all(s, seats[:5])
        await asyncio.sleep(1.0)
        snap = await rt.holds.snapshot(event_id)
        assert snap is not None
        assert all(snap.public_code(x) == "A" for x in seats[:5])
    # With the cookie the same page holds (the clicks did reach the server).
    buyer = f"u_{uuid.uuid4().hex[:10]}"
    async with page(url, event_id, proto, buyer_cookie(rt, buyer)) as s:
        await s.emit("toggle_seat", {"seat_id": seats[0]})

        async def held() -> bool:
            snap = await rt.holds.snapshot(event_id)
            return snap is not None and seats[0] in seats_of(snap, buyer)

        await eventually(held, timeout=10)


async def test_the_api_in_the_web_process_answers_like_the_standalone_api(
    web_stack: tuple[Stack, str],
) -> None:
    _, url = web_stack
    async with httpx.AsyncClient(base_url=url, timeout=10) as c:
        for path in ("/api/nope", "/api", "/actuator/nope"):
            assert_error(await c.get(path), 404, "NOT_FOUND")
        r = await c.post("/api/events", json={})
        assert_error(r, 405, "METHOD_NOT_ALLOWED")
        assert r.headers["Allow"] == "GET"
        docs = await c.get("/api/openapi.json")
        assert docs.status_code == 200 and docs.json()["info"]["title"] == "Ticketing API"
        ping = await c.get("/ping")  # Reflex's own route, through its layers and ours
        assert ping.status_code == 200
        assert len(ping.headers["Trace-Id"]) == 32
        assert ping.headers["X-Frame-Options"] == "DENY"
