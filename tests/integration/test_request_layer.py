"""The one request layer (`api/edge.py`), through the real API app in-process against real
Valkey and SQLite, with this process's seat mirror running: the hot routes (hold, release) and
FastAPI's routes answer alike (Trace-Id and W3C traceparent, the standard error body, CORS,
the body limit, 404/405), the abuse limits are counted on every path that holds and cost no
Redis call once over, refusals from the process's copy read exactly as the script's, and the
database-bound routes shed load with 503 instead of queueing."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from tests.integration.helpers import assert_error, eventually, local_services, on_sale_event
from tests.integration.inprocess import stack_settings
from ticketing_app.api import deps
from ticketing_app.api.app import TicketingAPI, create_api
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.domain import errors
from ticketing_app.observability import metrics
from ticketing_app.observability.tracing import configure_tracing
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration

PER_BUYER = 4  # hold attempts per buyer per event per minute (the script counts them)
NEW_BUYERS = 3  # buyer tokens per client address per minute
ORIGIN = "https://partner.example"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from local_services(tmp_path_factory, "layer")


@pytest_asyncio.fixture(scope="module")
async def rt(services: Stack) -> AsyncIterator[Runtime]:
    configure_tracing("ticketing-test")
    runtime = await create_runtime(stack_settings(
        services.env(), rate_limit_holds_per_minute=PER_BUYER, rate_limit_ip_per_minute=0,
        rate_limit_buyers_per_minute=NEW_BUYERS))
    mirror = asyncio.create_task(runtime.mirror.run())
    await asyncio.wait_for(runtime.mirror.subscribed.wait(), 10)
    try:
        yield runtime
    finally:
        runtime.mirror.stop()
        mirror.cancel()
        with contextlib.suppress(BaseException):
            await mirror
        await runtime.close()


@pytest.fixture(scope="module")
def app(rt: Runtime, monkeypatch_module: pytest.MonkeyPatch) -> TicketingAPI:
    from ticketing_app.settings import reset_settings_cache

    monkeypatch_module.setenv("CORS_ORIGINS", ORIGIN)
    reset_settings_cache()
    api = create_api()
    monkeypatch_module.delenv("CORS_ORIGINS")
    reset_settings_cache()
    api.dependency_overrides[deps.runtime] = lambda: rt
    return api


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def client(app: TicketingAPI, buyer: str | None = None) -> httpx.AsyncClient:
    headers = {"X-Caller-Id": buyer} if buyer else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.9.8.7", 5000)),
                             base_url="http://api", headers=headers, timeout=30)


async def new_event(rt: Runtime, **settings: object) -> tuple[int, list[int]]:
    return await on_sale_event(rt, 2, 10, **settings)


def refused_from_copy() -> float:
    return metrics.HOLD_REFUSED_FROM_COPY._value.get()


def script_calls() -> float:
    return sum(s.value for m in metrics.HOLD_LATENCY.collect() for s in m.samples
               if s.name.endswith("_count") and s.labels.get("op") == "hold")


# ---- traces and error bodies, hot and not ------------------------------------------------
async def test_every_answer_names_its_trace_and_continues_the_callers(
    app: TicketingAPI, rt: Runtime,
) -> None:
    event_id, seats = await new_event(rt)
    tp = {"traceparent": TRACEPARENT}
    async with client(app, f"a-{uuid.uuid4().hex[:6]}") as a, \
            client(app, f"b-{uuid.uuid4().hex[:6]}") as b:
        held = await a.post("/api/reservations", json={"eventId": event_id,
                                                       "seatId": seats[0]}, headers=tp)
        assert held.status_code == 201, held.text
        assert held.headers["Trace-Id"] == TRACE == held.json()["traceId"]
        # Refused by the script, then (once this process's copy has the hold) from the copy:
        # the same status, code, details and trace either way.
        answers = []
        for _ in range(50):
            r = await b.post("/api/reservations", json={"eventId": event_id,
                                                        "seatId": seats[0]}, headers=tp)
            answers.append(r)
            if refused_from_copy() and len(answers) > 1:
                break
            await asyncio.sleep(0.02)
        for r in answers:
            body = assert_error(r, 409, "RESERVATION_CONFLICT")
            assert body["traceId"] == TRACE
            assert body["details"] == [{"seatId": seats[0], "status": "HELD"}]
        # FastAPI's routes: the same trace and body.
        for r in (await b.get("/api/events/999999", headers=tp),
                  await b.get("/api/nope", headers=tp)):
            assert r.headers["Trace-Id"] == TRACE
            assert r.json()["traceId"] == TRACE
        fresh = await b.get(f"/api/events/{event_id}")
        assert len(fresh.headers["Trace-Id"]) == 32 and fresh.headers["Trace-Id"] != TRACE


async def test_a_refusal_from_the_copy_reads_exactly_as_the_scripts(
    app: TicketingAPI, rt: Runtime,
) -> None:
    """Sold before held (the script's precedence); a seat of one's own always goes to the
    script; every refusal has the script's status, code and details."""
    event_id, seats = await new_event(rt)
    me, other = f"me-{uuid.uuid4().hex[:6]}", f"o-{uuid.uuid4().hex[:6]}"
    await rt.reservations.hold(other, event_id, [seats[1]], None)
    await rt.admin.block_seats("t", event_id, [seats[2]], blocked=True)
    copy = await rt.mirror.watch(event_id)
    await eventually(lambda: _async(seats[1] in copy.taken and seats[2] in copy.taken),
                     timeout=5)
    before = refused_from_copy()
    async with client(app, me) as c:
        r = await c.post("/api/reservations", json={"eventId": event_id,
                                                    "seatIds": [seats[1]]})
        assert_error(r, 409, "RESERVATION_CONFLICT")
        assert r.json()["details"] == [{"seatId": seats[1], "status": "HELD"}]
        r = await c.post("/api/reservations", json={"eventId": event_id,
                                                    "seatIds": [seats[1], seats[2]]})
        assert_error(r, 422, "VALIDATION_FAILED")
        assert r.json()["details"] == [{"seatId": seats[2], "status": "BLOCKED"}]
        assert refused_from_copy() == before + 2
        # The script itself answers the same.
        with pytest.raises(errors.DomainError) as script:
            await rt.holds.hold(event_id, me, rt.catalog.tag_for(event_id, me),
                                [seats[1], seats[2]], None)
        assert (script.value.status, script.value.code, script.value.details) == (
            422, "VALIDATION_FAILED", r.json()["details"])
        # A seat the copy shows free goes to the script and is held.
        ok = await c.post("/api/reservations", json={"eventId": event_id,
                                                     "seatIds": [seats[3]]})
        assert ok.status_code == 201, ok.text
        # Holding it again (mine): to the script, which refreshes the hold (201 again).
        await eventually(lambda: _async(seats[3] in copy.taken), timeout=5)
        again = await c.post("/api/reservations", json={"eventId": event_id,
                                                        "seatIds": [seats[3]]})
        assert again.status_code == 201, again.text
        assert refused_from_copy() == before + 2


async def _async(value: object) -> object:
    return value


async def test_hot_routes_fall_back_to_the_routes_contract_for_bad_input(
    app: TicketingAPI, rt: Runtime,
) -> None:
    event_id, seats = await new_event(rt)
    async with client(app) as anon, client(app, "buyer-1") as c:
        r = await anon.post("/api/reservations", json={"eventId": event_id, "seatId": seats[0]})
        body = assert_error(r, 400, "BAD_REQUEST")
        assert any(d["field"] == "X-Caller-Id" for d in body["details"])
        r = await c.post("/api/reservations", content=b"{not json",
                         headers={"Content-Type": "application/json"})
        assert_error(r, 400, "BAD_REQUEST")
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": seats[0],
                                                    "extra": 1})
        body = assert_error(r, 422, "VALIDATION_FAILED")
        assert body["details"]
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": 0})
        assert_error(r, 422, "VALIDATION_FAILED")
        r = await c.post("/api/reservations", content=b"x" * 70_000,
                         headers={"Content-Type": "application/json"})
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        r = await anon.delete(f"/api/reservations/{event_id}/{seats[0]}")
        assert_error(r, 400, "BAD_REQUEST")
        r = await c.delete(f"/api/reservations/{event_id}/{seats[0]}")
        assert_error(r, 410, "RESERVATION_EXPIRED")


async def test_unknown_paths_are_404_and_other_methods_405_with_allow(
    app: TicketingAPI,
) -> None:
    async with client(app, "buyer-1") as c:
        for path in ("/api/nope", "/api", "/actuator/nope", "/api/reservations/1/2/3"):
            r = await c.get(path)
            assert_error(r, 404, "NOT_FOUND")
            assert "allow" not in r.headers
        r = await c.post("/api/events", json={})
        assert_error(r, 405, "METHOD_NOT_ALLOWED")
        assert [m.strip() for m in r.headers["Allow"].split(",")] == ["GET"]
        r = await c.put("/api/reservations", json={})
        assert_error(r, 405, "METHOD_NOT_ALLOWED")
        assert "POST" in r.headers["Allow"] and "PUT" not in r.headers["Allow"]


async def test_cors_on_hot_and_other_routes(app: TicketingAPI, rt: Runtime) -> None:
    event_id, seats = await new_event(rt)
    async with client(app, "cors-buyer") as c:
        for r in (await c.post("/api/reservations", headers={"Origin": ORIGIN},
                               json={"eventId": event_id, "seatId": seats[5]}),
                  await c.get(f"/api/events/{event_id}", headers={"Origin": ORIGIN})):
            assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
            assert "Trace-Id" in r.headers["Access-Control-Expose-Headers"]
        r = await c.post("/api/reservations", headers={"Origin": "https://evil.example"},
                         json={"eventId": event_id, "seatId": seats[6]})
        assert "Access-Control-Allow-Origin" not in r.headers
        pre = await c.options("/api/reservations", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-caller-id, idempotency-key"})
        assert pre.status_code == 200
        assert "x-caller-id" in pre.headers["Access-Control-Allow-Headers"]


# ---- limits on every path that holds -------------------------------------------------------
async def test_the_per_buyer_limit_counts_holds_and_best_available_alike(
    app: TicketingAPI, rt: Runtime,
) -> None:
    """REST holds and best-available share one counter, kept by the scripts; once over, the
    process refuses from memory (no Redis call) until the window ends."""
    from tests.integration.test_abuse_limits import assert_rate_limited, same_minute

    event_id, seats = await new_event(rt, max_seats_per_buyer=50)
    await same_minute()
    buyer = f"lim-{uuid.uuid4().hex[:6]}"
    async with client(app, buyer) as c:
        answers = []
        for i in range(PER_BUYER - 1):
            answers.append(await c.post("/api/reservations",
                                        json={"eventId": event_id, "seatId": seats[i]}))
        answers.append(await c.post("/api/reservations/best",
                                    json={"eventId": event_id, "quantity": 1}))
        assert [r.status_code for r in answers] == [201] * PER_BUYER, [r.text for r in answers]
        assert_rate_limited(await c.post("/api/reservations/best",
                                         json={"eventId": event_id, "quantity": 1}))
        calls = script_calls()
        for i in range(5):
            assert_rate_limited(await c.post("/api/reservations", json={
                "eventId": event_id, "seatId": seats[10 + i]}))
        assert script_calls() == calls, "a remembered verdict still asked Redis"
    async with client(app, f"other-{uuid.uuid4().hex[:6]}") as other:
        r = await other.post("/api/reservations", json={"eventId": event_id,
                                                        "seatId": seats[15]})
        assert r.status_code == 201, "another buyer is not limited"


# ---- shedding ------------------------------------------------------------------------------
async def test_database_bound_routes_shed_with_503_when_full(
    app: TicketingAPI, rt: Runtime,
) -> None:
    """With no worker running, authorize waits for an outcome; with room for one request,
    the next database-bound request is refused at once (503, Retry-After), while holds,
    which never queue behind the database, still answer."""
    event_id, seats = await new_event(rt)
    edge = app.edge
    buyer = f"shed-{uuid.uuid4().hex[:6]}"
    async with client(app, buyer) as c:
        assert (await c.post("/api/reservations", json={
            "eventId": event_id, "seatId": seats[0]})).status_code == 201
        order = await c.post("/api/orders", json={"eventId": event_id, "seatIds": [seats[0]]},
                             headers={"Idempotency-Key": uuid.uuid4().hex})
        assert order.status_code == 201, order.text
        saved = edge.max_inflight
        edge.max_inflight = 1
        try:
            waiting = asyncio.create_task(c.post("/api/payments/authorize",
                                                 json={"orderId": order.json()["orderId"]}))
            await eventually(lambda: _async(edge.inflight == 1), timeout=10)
            r = await c.get(f"/api/events/{event_id}")
            assert_error(r, 503, "SERVICE_UNAVAILABLE")
            assert r.headers["Retry-After"] == "1"
            held = await c.post("/api/reservations", json={"eventId": event_id,
                                                           "seatId": seats[1]})
            assert held.status_code == 201, held.text
        finally:
            edge.max_inflight = saved
            waiting.cancel()
            with contextlib.suppress(BaseException):
                await waiting


async def test_new_buyer_tokens_are_limited_per_address(app: TicketingAPI) -> None:
    """Each token is a fresh buyer with fresh per-buyer limits: minting them is limited."""
    from tests.integration.test_abuse_limits import same_minute

    await same_minute()
    transport = httpx.ASGITransport(app=app, client=("10.77.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        tokens = [await c.post("/api/buyers") for _ in range(NEW_BUYERS)]
        assert [r.status_code for r in tokens] == [201] * NEW_BUYERS
        r = await c.post("/api/buyers")
        body = assert_error(r, 429, "RATE_LIMITED")
        assert 1 <= int(r.headers["Retry-After"]) <= 60 and "per minute" in body["message"]
    other = httpx.ASGITransport(app=app, client=("10.77.0.2", 5000))
    async with httpx.AsyncClient(transport=other, base_url="http://api") as c:
        assert (await c.post("/api/buyers")).status_code == 201, "another address is not limited"
