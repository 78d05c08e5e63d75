"""Helpers for the admin, check-in, refund and cancellation tests: a signed-in admin client
and confirmed orders bought through the real API, worker and payment saga."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import httpx

from tests.conftest import Env
from tests.integration.helpers import eventually
from ticketing_app.domain import errors

ADMIN_PASSWORD = "correct horse battery staple"


async def ensure_admin(env: Env, username: str = "ops") -> str:
    with suppress(errors.Conflict):
        await env.rt.admin_auth.create_admin(username, ADMIN_PASSWORD, actor="test")
    return username


@asynccontextmanager
async def admin_client(env: Env, username: str = "ops") -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client holding a live admin session cookie."""
    await ensure_admin(env, username)
    async with httpx.AsyncClient(base_url=env.api_url, timeout=30) as c:
        r = await c.post("/api/admin/login",
                         json={"username": username, "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        yield c


async def buy(env: Env, buyer: str, event_id: int, seats: list[int]) -> int:
    """Hold, order and pay (the provider is forced to approve): a CONFIRMED order's id."""
    async with env.client(buyer) as c:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatIds": seats})
        assert r.status_code == 201, r.text
        r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": seats},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 201, r.text
        order_id = int(r.json()["orderId"])
        r = await c.post("/api/payments/authorize", json={"orderId": order_id})
        assert r.status_code in (200, 202) and r.json()["status"] in ("success", "pending"), \
            r.text

        async def confirmed() -> bool:  # a busy worker may answer after the sync wait
            return (await c.get(f"/api/orders/{order_id}")).json()["status"] == "CONFIRMED"

        await eventually(confirmed, timeout=60)
    return order_id


async def buy_many(env: Env, event_id: int, seat_groups: list[list[int]],
                   concurrency: int = 8) -> list[int]:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int, seats: list[int]) -> int:
        async with gate:
            return await buy(env, f"fan-{event_id}-{i}", event_id, seats)

    return list(await asyncio.gather(*(one(i, g) for i, g in enumerate(seat_groups))))


async def tickets_of(env: Env, buyer: str) -> list[dict[str, object]]:
    async with env.client(buyer) as c:
        r = await c.get("/api/tickets")
        assert r.status_code == 200, r.text
        return list(r.json())
