"""Small helpers shared by the integration tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx


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
