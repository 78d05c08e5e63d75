"""Small helpers shared by the integration tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx

from ticketing_app.embedded import START_TIMEOUT_S


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Every error has the standard body and a Trace-Id header that matches it."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert len(body["traceId"]) == 32
    assert resp.headers["Trace-Id"] == body["traceId"]
    return body


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0,
                     interval: float = 0.1) -> Any:
    """Waits for an expected outcome (a correctness deadline, not a speed check)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


async def race_event(env: Any, tries: int) -> tuple[int, list[int]]:
    """An on-sale event with a seat for each of `tries` races (ten a row, any buyer up to ten),
    the simulated provider approving every payment: the payment race tests' ground."""
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=max(1, (tries + 9) // 10), cols=10,
                                   max_seats_per_buyer=10)
    return event_id, await env.seat_ids(event_id)


async def pay(client: httpx.AsyncClient, order_id: int, timeout: float = 30.0) -> str:
    """Authorize and return the outcome (success | fail). A 202 `pending` (the worker took
    longer than PAYMENT_SYNC_WAIT_S, e.g. on a loaded machine) is followed to the end."""
    r = await client.post("/api/payments/authorize", json={"orderId": order_id})
    assert r.status_code in (200, 202), r.text
    outcome = str(r.json()["status"])
    if outcome != "pending":
        return outcome

    async def final() -> str | None:
        status = (await client.get(f"/api/orders/{order_id}")).json()["status"]
        return {"CONFIRMED": "success", "CANCELLED": "fail"}.get(status)

    return str(await eventually(final, timeout=timeout))


def local_services(tmp_path_factory: Any, name: str, kafka: bool = False,
                   **env: str) -> Iterator[Any]:
    """A module's own Valkey (and broker) with a fresh, migrated SQLite database: for tests
    that drive parts of the platform in-process or start processes of their own."""
    from ticketing_app.stack import Stack

    db = tmp_path_factory.mktemp(name) / f"{name}.db"
    st = Stack(database_url=f"sqlite+aiosqlite:///{db}", extra_env=dict(env)).start_services(
        kafka=kafka)
    try:
        st.migrate()
        yield st
    finally:
        st.stop()


def wait_ready(url: str, log: object, timeout: float = START_TIMEOUT_S) -> None:
    """Until a web or API process answers its readiness probe (a startup deadline)."""
    import contextlib

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/actuator/health/readiness", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"not ready after {timeout}s: {log}")


async def on_sale_event(rt: Any, rows: int, cols: int, **settings: Any
                        ) -> tuple[int, list[int]]:
    """An on-sale event on a fresh one-section venue: (its id, seat ids in layout order)."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from ticketing_app.domain.event_rules import TierSpec
    from ticketing_app.domain.layouts import GridSpec

    venue = await rt.admin.create_venue("t", f"Hall {uuid.uuid4().hex[:6]}",
                                        [GridSpec("Main", rows, cols)])
    ev = await rt.admin.create_event(
        "t", title=f"Event {uuid.uuid4().hex[:6]}",
        starts_at=datetime.now(UTC) + timedelta(days=3), venue_id=int(venue.id or 0),
        tiers=[TierSpec("Standard", 1000)], status="ON_SALE", **settings)
    layout = await rt.catalog.layout(int(ev.id or 0), fresh=True)
    return int(ev.id or 0), [s.id for s in layout.seats]
