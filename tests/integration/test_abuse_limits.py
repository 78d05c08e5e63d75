"""Abuse limits on holds, through the real API app (in-process ASGI, so each request can come
from a chosen client address) against real Valkey and SQLite: per-holder and per-address rate
limits answer 429 with the standard body and Retry-After; X-Forwarded-For counts only from a
trusted proxy. (The per-buyer seat limit is proved in test_buyer_limits.py, the size limit and
headers in tests/unit/test_security_config.py.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.integration.helpers import assert_error, local_services, on_sale_event
from tests.integration.inprocess import stack_settings
from ticketing_app.api import deps
from ticketing_app.api.app import create_api
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.observability.tracing import configure_tracing
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration

PER_HOLDER, PER_ADDRESS = 3, 5


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from local_services(tmp_path_factory, "abuse")


@pytest_asyncio.fixture(scope="module")
async def rt(services: Stack) -> AsyncIterator[Runtime]:
    configure_tracing("ticketing-test")  # so error bodies carry real trace ids
    runtime = await create_runtime(stack_settings(
        services.env(), rate_limit_holds_per_minute=PER_HOLDER,
        rate_limit_ip_per_minute=PER_ADDRESS))
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture(scope="module")
def app(rt: Runtime) -> FastAPI:
    api = create_api()  # FORWARDED_ALLOW_IPS: the default, 127.0.0.1 is the trusted proxy
    api.dependency_overrides[deps.runtime] = lambda: rt
    return api


def client(app: FastAPI, peer: str, buyer: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(peer, 50000)),
                             base_url="http://api", headers={"X-Caller-Id": buyer})


async def new_event(rt: Runtime) -> tuple[int, list[int]]:
    return await on_sale_event(rt, 2, 10, max_seats_per_buyer=50)


async def same_minute() -> None:
    """The limits count per clock minute: start a scenario well inside one (a correctness
    guard, not a timing assertion)."""
    left = 60 - time.time() % 60
    if left < 8:
        await asyncio.sleep(left + 0.2)


def assert_rate_limited(r: httpx.Response) -> None:
    body = assert_error(r, 429, "RATE_LIMITED")
    assert "per minute" in body["message"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60


async def test_per_holder_limit(app: FastAPI, rt: Runtime) -> None:
    event_id, seats = await new_event(rt)
    await same_minute()
    holder = f"greedy-{uuid.uuid4().hex[:6]}"
    async with client(app, "192.0.2.1", holder) as c, \
            client(app, "192.0.2.2", f"calm-{uuid.uuid4().hex[:6]}") as other:
        for i in range(PER_HOLDER):  # every hold request counts, whatever its answer
            r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": seats[i]})
            assert r.status_code == 201, r.text
        over = await c.post("/api/reservations", json={"eventId": event_id, "seatId": seats[5]})
        assert_rate_limited(over)
        best = await c.post("/api/reservations/best", json={"eventId": event_id, "quantity": 1})
        assert_rate_limited(best)  # best available is a hold too
        # Nothing was held by the refused requests; other buyers are not affected.
        assert [h["seatId"] for h in (await c.get(f"/api/reservations/{event_id}/mine")).json()] \
            == seats[:PER_HOLDER]
        r = await other.post("/api/reservations", json={"eventId": event_id, "seatId": seats[5]})
        assert r.status_code == 201, r.text


async def test_per_address_limit(app: FastAPI, rt: Runtime) -> None:
    event_id, seats = await new_event(rt)
    await same_minute()
    run = uuid.uuid4().hex[:6]
    for i in range(PER_ADDRESS):  # different buyers, one address (a bot farm behind one IP)
        async with client(app, "198.51.100.7", f"bot{i}-{run}") as c:
            r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": seats[i]})
            assert r.status_code == 201, r.text
    async with client(app, "198.51.100.7", f"bot-last-{run}") as c:
        over = await c.post("/api/reservations", json={"eventId": event_id, "seatId": seats[9]})
        assert_rate_limited(over)
    async with client(app, "198.51.100.8", f"bot-last-{run}") as c:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": seats[9]})
        assert r.status_code == 201, r.text


async def test_forwarded_client_addresses_count_only_behind_a_trusted_proxy(
    app: FastAPI, rt: Runtime,
) -> None:
    event_id, seats = await new_event(rt)
    await same_minute()
    run = uuid.uuid4().hex[:6]
    # Through the trusted balancer (127.0.0.1): each client address has its own budget.
    for i in range(PER_ADDRESS + 2):
        async with client(app, "127.0.0.1", f"fwd{i}-{run}") as c:
            r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": seats[i]},
                             headers={"X-Forwarded-For": f"203.0.113.{i + 1}"})
            assert r.status_code == 201, r.text
    # From an untrusted peer the header is ignored: rotating it does not escape the limit.
    codes = []
    for i in range(PER_ADDRESS + 1):
        async with client(app, "192.0.2.99", f"spoof{i}-{run}") as c:
            r = await c.post("/api/reservations",
                             json={"eventId": event_id, "seatId": seats[10 + i]},
                             headers={"X-Forwarded-For": f"203.0.113.{100 + i}"})
            codes.append(r.status_code)
            if r.status_code == 429:
                assert_rate_limited(r)
    assert codes == [201] * PER_ADDRESS + [429]
