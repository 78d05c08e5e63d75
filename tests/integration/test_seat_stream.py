"""The original's seat stream, `GET /api/events/{id}/seats/stream` (Server-Sent Events), against
real processes: a web process (granian, the Reflex backend with the API) and an API process
(`ticketing api`, uvicorn) on one Valkey, a payment worker, SQLite. Clients read it as an
EventSource does (bench/sse_client.py), or as raw sockets where the test needs one that stops
reading.

The deadlines are correctness deadlines (the expected message must come), not speed checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import aiohttp
import httpx
import pytest
import pytest_asyncio

from bench.sse_client import SeatStreamClient
from tests.conftest import TEST_ENV
from tests.integration.helpers import eventually
from tests.integration.inprocess import stack_settings
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.holds.keys import EventKeys
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration

DEADLINE_S = 10.0
CLIENT_QUEUE = 16  # SSE_CLIENT_QUEUE of these processes: a client that stops reading fills it
ORIGIN = "https://kiosk.example.com"


@pytest.fixture(scope="module")
def stream_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("stream")
    st = Stack(database_url=f"sqlite+aiosqlite:///{work}/stream.db",
               extra_env={**TEST_ENV, "LOG_LEVEL": "WARNING", "CORS_ORIGINS": ORIGIN,
                          "SSE_CLIENT_QUEUE": str(CLIENT_QUEUE), "SSE_HEARTBEAT_S": "1",
                          "PAYMENT_FORCE_OUTCOME": "success"}).start_services(kafka=False)
    try:
        st.migrate()
        st.start_web_backend("web")
        st.start_api("api")
        st.start_process("worker")
        _wait_ready(st.procs["web"].port)
        yield st
    finally:
        st.stop()


def _wait_ready(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            r = httpx.get(f"http://127.0.0.1:{port}/actuator/health/readiness", timeout=2)
            if r.status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"process on {port} not ready")


def url(st: Stack, name: str) -> str:
    return f"http://127.0.0.1:{st.procs[name].port}"


@pytest_asyncio.fixture(scope="module")
async def rt(stream_stack: Stack) -> AsyncIterator[Runtime]:
    runtime = await create_runtime(stack_settings(stream_stack.env()))
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        yield session


async def new_event(rt: Runtime, rows: int = 2, cols: int = 10, status: str = "ON_SALE"
                    ) -> tuple[int, list[int]]:
    from ticketing_app.domain.event_rules import TierSpec
    from ticketing_app.domain.layouts import GridSpec

    venue = await rt.admin.create_venue("t", f"Hall {uuid.uuid4().hex[:6]}",
                                        [GridSpec("Main", rows, cols)])
    ev = await rt.admin.create_event(
        "t", title=f"Stream {uuid.uuid4().hex[:6]}", venue_id=int(venue.id or 0),
        starts_at=datetime.now(UTC) + timedelta(days=3), tiers=[TierSpec("Standard", 1000)],
        status=status, hold_min_s=1, max_seats_per_buyer=50)
    layout = await rt.catalog.layout(int(ev.id or 0), fresh=True)
    return int(ev.id or 0), [s.id for s in layout.seats]


async def opened(http: aiohttp.ClientSession, base: str, event_id: int,
                 last_id: str | None = None) -> SeatStreamClient:
    """A client that has its first message (an INIT, or what it missed)."""
    c = SeatStreamClient(base, event_id, last_id=last_id)
    assert await c.connect(http) == 200, c.errors
    return c


def updates(c: SeatStreamClient) -> list[tuple[int, str, int]]:
    return [(u["seatId"], u["status"], u["version"]) for u in c.of_kind("SEAT_UPDATE")]


async def test_init_then_a_hold_a_release_and_an_expiry_in_order(
    rt: Runtime, stream_stack: Stack, http: aiohttp.ClientSession,
) -> None:
    event_id, seats = await new_event(rt)
    c = await opened(http, url(stream_stack, "web"), event_id)
    assert c.headers["Content-Type"].startswith("text/event-stream")
    assert await c.wait_for(lambda x: x.of_kind("INIT"), DEADLINE_S)
    init = c.of_kind("INIT")[0]
    rest = await rt.catalog.seat_map(event_id)
    assert init == rest  # the GET /seats body, with its version
    assert c.retry_ms == 3000 and c.messages[0].id == str(init["version"])

    await rt.reservations.hold("ann", event_id, [seats[0]], 60)
    await rt.reservations.release("ann", event_id, [seats[0]])
    await rt.reservations.hold("bob", event_id, [seats[1]], 1)  # expires: the sweeper frees it
    assert await c.wait_for(lambda x: len(updates(x)) >= 4, DEADLINE_S), c.messages
    got = updates(c)
    assert [(s, st) for s, st, _ in got] == [
        (seats[0], "HELD"), (seats[0], "AVAILABLE"), (seats[1], "HELD"), (seats[1], "AVAILABLE")]
    versions = [init["version"], *(v for _, _, v in got)]
    assert versions == sorted(set(versions))  # strictly increasing
    assert all(m.id is not None for m in c.messages)
    assert [m.id for m in c.messages[1:]] == [str(v) for _, _, v in got]
    await c.close()


async def test_sales_refunds_and_blocks_appear_too(
    rt: Runtime, stream_stack: Stack, http: aiohttp.ClientSession,
) -> None:
    event_id, seats = await new_event(rt)
    c = await opened(http, url(stream_stack, "api"), event_id)
    a, b = seats[0], seats[5]
    await rt.admin.block_seats("admin", event_id, [a], True)
    await rt.admin.block_seats("admin", event_id, [a], False)
    await rt.reservations.hold("carol", event_id, [b], 60)
    status, order = await rt.orders.create("carol", uuid.uuid4().hex, event_id, [b])
    assert status == 201, order
    paid = await rt.payments.authorize("carol", int(order["orderId"]))
    assert paid.public_status == "success", paid
    await rt.admin.refund("admin", int(order["orderId"]), None, block=False)
    want = [(a, "BLOCKED"), (a, "AVAILABLE"), (b, "HELD"), (b, "SOLD"), (b, "AVAILABLE")]
    assert await c.wait_for(
        lambda x: [(s, st) for s, st, _ in updates(x) if (s, st) != (b, "HELD")] ==
        [w for w in want if w != (b, "HELD")], DEADLINE_S), updates(c)
    # The order's lock shows as HELD again (the seat stays held, now until the payment
    # deadline); every status the seat went through is there, in order.
    got = [(s, st) for s, st, _ in updates(c)]
    assert [x for i, x in enumerate(got) if i == 0 or got[i - 1] != x] == want
    await c.close()


async def test_a_reconnect_with_last_event_id_gets_exactly_the_missed_updates(
    rt: Runtime, stream_stack: Stack, http: aiohttp.ClientSession,
) -> None:
    event_id, seats = await new_event(rt)
    c = await opened(http, url(stream_stack, "web"), event_id)
    await rt.reservations.hold("dan", event_id, [seats[0]], 60)
    assert await c.wait_for(lambda x: len(updates(x)) == 1, DEADLINE_S)
    await c.close()
    resume_from = c.last_id
    # Missed while away: a release, and one hold of three seats (one version, three updates).
    await rt.reservations.release("dan", event_id, [seats[0]])
    multi = await rt.reservations.hold("eve", event_id, seats[2:5], 60)
    missed = [(seats[0], "AVAILABLE"), *((s, "HELD") for s in seats[2:5])]

    again = await opened(http, url(stream_stack, "web"), event_id, last_id=resume_from)
    assert await again.wait_for(lambda x: len(updates(x)) >= 4, DEADLINE_S)
    await asyncio.sleep(0.3)  # nothing more may come: no duplicates
    assert not again.of_kind("INIT")
    assert [(s, st) for s, st, _ in updates(again)] == missed
    ids = [m.id for m in again.messages]
    v = multi.version
    assert ids[1:] == [f"{v}:1", f"{v}:2", str(v)]  # mid-version ids say how far it got
    # And it is live again.
    await rt.reservations.release("eve", event_id, seats[2:5])
    assert await again.wait_for(lambda x: len(updates(x)) == 7, DEADLINE_S)
    await again.close()

    # Cut off in the middle of the three-seat version: it resumes inside that version.
    mid = await opened(http, url(stream_stack, "api"), event_id, last_id=f"{v}:1")
    assert await mid.wait_for(lambda x: len(updates(x)) >= 5, DEADLINE_S)
    await asyncio.sleep(0.3)
    assert [(s, st) for s, st, _ in updates(mid)] == [
        (seats[3], "HELD"), (seats[4], "HELD"), *((s, "AVAILABLE") for s in seats[2:5])]
    await mid.close()


async def test_an_id_the_log_no_longer_reaches_gets_a_fresh_init(
    rt: Runtime, stream_stack: Stack, http: aiohttp.ClientSession,
) -> None:
    event_id, seats = await new_event(rt)
    c = await opened(http, url(stream_stack, "web"), event_id)
    await rt.reservations.hold("fay", event_id, [seats[0]], 60)
    assert await c.wait_for(lambda x: len(updates(x)) == 1, DEADLINE_S)
    old = c.last_id
    await c.close()
    # More changes than the log keeps (about 1000 versions): block and unblock one seat.
    for i in range(1100):
        await rt.holds.block(event_id, [seats[9]], i % 2 == 0)
    log_len = await rt.redis.xlen(EventKeys(event_id).change_log)
    assert 1000 <= log_len < 1100

    for stale in (old, "garbage", "99999999999999999"):
        fresh = await opened(http, url(stream_stack, "web"), event_id, last_id=stale)
        assert await fresh.wait_for(lambda x: x.of_kind("INIT"), DEADLINE_S), stale
        assert fresh.seats[seats[0]] == "HELD" and fresh.seats[seats[9]] == "AVAILABLE"
        assert fresh.version == (await rt.catalog.seat_map(event_id))["version"]
        await fresh.close()

    # A rebuild (Redis lost the event) is a horizon too: replaying across it would be wrong.
    before = c.version + 1
    await rt.holds.reset_event(event_id)
    await rt.catalog.load_event_state(event_id)
    again = await opened(http, url(stream_stack, "api"), event_id, last_id=str(before))
    assert await again.wait_for(lambda x: x.of_kind("INIT"), DEADLINE_S)
    assert again.seats[seats[0]] == "AVAILABLE"  # the hold lived only in Redis
    await again.close()


async def test_two_processes_stream_the_same_changes(
    rt: Runtime, stream_stack: Stack, http: aiohttp.ClientSession,
) -> None:
    event_id, seats = await new_event(rt)
    web = await opened(http, url(stream_stack, "web"), event_id)
    api = await opened(http, url(stream_stack, "api"), event_id)
    assert await web.wait_for(lambda x: x.version > 0, DEADLINE_S)
    assert await api.wait_for(lambda x: x.version == web.version, DEADLINE_S)
    for i, seat in enumerate(seats[:6]):
        await rt.reservations.hold(f"buyer-{i}", event_id, [seat], 60)
    await rt.reservations.release("buyer-2", event_id, [seats[2]])
    target = (await rt.catalog.seat_map(event_id))["version"]
    for c in (web, api):
        assert await c.wait_for(lambda x: x.version == target, DEADLINE_S)
    assert [(m.event, m.id, m.data) for m in web.messages[1:]] == \
        [(m.event, m.id, m.data) for m in api.messages[1:]]
    assert len(updates(web)) == 7
    # A client of one process resumes on the other.
    await web.close()
    await rt.reservations.release("buyer-3", event_id, [seats[3]])
    moved = await opened(http, url(stream_stack, "api"), event_id, last_id=web.last_id)
    assert await moved.wait_for(lambda x: len(updates(x)) == 1, DEADLINE_S)
    assert not moved.of_kind("INIT") and updates(moved)[0][:2] == (seats[3], "AVAILABLE")
    await asyncio.gather(api.close(), moved.close())


def _raw_stream(port: int, event_id: int) -> socket.socket:
    """A client that sends the request and then never reads (a tiny receive buffer)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET /api/events/{event_id}/seats/stream HTTP/1.1\r\nHost: t\r\n"
              "Accept: text/event-stream\r\n\r\n".encode())
    return s


def _read_to_end(s: socket.socket, timeout: float) -> tuple[int, bool]:
    """Reads what the server had sent; (bytes, whether the server closed the stream)."""
    s.settimeout(timeout)
    n = 0
    try:
        while True:
            data = s.recv(1 << 20)
            if not data:
                return n, True
            n += len(data)
    except (TimeoutError, ConnectionResetError):
        return n, False


async def _dropped(port: int) -> float:
    async with httpx.AsyncClient() as c:
        text = (await c.get(f"http://127.0.0.1:{port}/metrics")).text
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("tk_sse_dropped_total"))


@pytest.mark.parametrize("proc", ["web", "api"])
async def test_a_client_that_stops_reading_is_dropped_and_the_others_get_everything(
    rt: Runtime, stream_stack: Stack, http: aiohttp.ClientSession, proc: str,
) -> None:
    port = stream_stack.procs[proc].port
    event_id, seats = await new_event(rt, rows=10, cols=30)  # 300 seats: big versions
    readers = [await opened(http, url(stream_stack, proc), event_id) for _ in range(3)]
    slow = await asyncio.to_thread(_raw_stream, port, event_id)
    dropped_before = await _dropped(port)
    versions = 0
    try:
        # Each version changes 300 seats (~20 kB on the wire): the slow client's socket
        # buffers fill within a few MB, then its mailbox, then it is dropped.
        async def dropped() -> bool:
            return await _dropped(port) > dropped_before

        while not await dropped():
            for _ in range(20):
                await rt.holds.block(event_id, seats, versions % 2 == 0)
                versions += 1
            assert versions < 2000, "the client that does not read was never dropped"
        received, closed = await asyncio.to_thread(_read_to_end, slow, 5.0)
        assert closed, f"the stream of the dropped client is still open ({received} bytes)"
    finally:
        slow.close()
    final = (await rt.catalog.seat_map(event_id))["version"]
    for r in readers:
        assert await r.wait_for(lambda x: x.version == final, DEADLINE_S)
        assert len(updates(r)) == versions * len(seats) and not r.errors
        assert not r.ended.is_set()
    await asyncio.gather(*(r.close() for r in readers))


async def test_unknown_and_unpublished_events_are_not_streamed(
    rt: Runtime, stream_stack: Stack,
) -> None:
    draft, _ = await new_event(rt, status="DRAFT")
    async with httpx.AsyncClient(base_url=url(stream_stack, "web"), timeout=10) as c:
        for event_id in (draft, 2_000_000_000):
            r = await c.get(f"/api/events/{event_id}/seats/stream")
            assert r.status_code == 404, r.text
            body = r.json()
            assert body["code"] == "EVENT_NOT_FOUND" and body["traceId"] == r.headers["trace-id"]
        r = await c.get("/api/events/0/seats/stream")
        assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"


async def test_cors_follows_the_api_rules(
    rt: Runtime, stream_stack: Stack, http: aiohttp.ClientSession,
) -> None:
    event_id, _ = await new_event(rt)
    base = url(stream_stack, "web")
    allowed = SeatStreamClient(base, event_id)
    assert await allowed.connect(http, headers={"Origin": ORIGIN}) == 200
    assert allowed.headers.get("Access-Control-Allow-Origin") == ORIGIN
    other = SeatStreamClient(base, event_id)
    assert await other.connect(http, headers={"Origin": "https://evil.example"}) == 200
    assert "Access-Control-Allow-Origin" not in other.headers
    async with httpx.AsyncClient(base_url=base, timeout=10) as c:
        r = await c.options(f"/api/events/{event_id}/seats/stream", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "last-event-id"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
    await asyncio.gather(allowed.close(), other.close())


@pytest.mark.parametrize("kind", ["web", "api"])
async def test_streams_end_cleanly_on_shutdown_and_are_never_shed(
    rt: Runtime, stream_stack: Stack, http: aiohttp.ClientSession, kind: str,
) -> None:
    """SIGTERM ends every stream at once (the client sees a clean end and reconnects),
    however many are open; and open streams do not count against API_MAX_INFLIGHT."""
    event_id, _ = await new_event(rt)
    env = {"API_MAX_INFLIGHT": "1", "SHUTDOWN_GRACE_S": "30"}
    proc = (stream_stack.start_web_backend(f"web-{kind}-stop", **env) if kind == "web"
            else stream_stack.start_api(f"api-{kind}-stop", **env))
    _wait_ready(proc.port)
    base = f"http://127.0.0.1:{proc.port}"
    clients = [await opened(http, base, event_id) for _ in range(3)]
    for c in clients:
        assert await c.wait_for(lambda x: x.version > 0, DEADLINE_S)
    async with httpx.AsyncClient(base_url=base, timeout=10) as api:
        assert (await api.get(f"/api/events/{event_id}")).status_code == 200
    assert proc.proc is not None
    started = time.monotonic()
    os.killpg(proc.proc.pid, signal.SIGTERM)  # as a container stop or `ticketing up` does
    for c in clients:
        assert await c.wait_for(lambda x: x.ended.is_set(), DEADLINE_S)
        assert c.errors == []  # a clean end of the response, not a cut-off
    await eventually(lambda: _exited(proc), DEADLINE_S)
    assert time.monotonic() - started < DEADLINE_S  # not SHUTDOWN_GRACE_S
    stream_stack.procs.pop(proc.name, None)


async def _exited(proc: object) -> bool:
    p = getattr(proc, "proc", None)
    return p is not None and p.poll() is not None
