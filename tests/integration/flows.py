"""Buyer journeys through the real API, shared by the reconciliation and fault tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


async def hold(c: httpx.AsyncClient, event_id: int, seats: list[int]) -> None:
    r = await c.post("/api/reservations", json={"eventId": event_id, "seatIds": seats})
    assert r.status_code == 201, r.text


async def order(c: httpx.AsyncClient, event_id: int, seats: list[int],
                key: str | None = None) -> dict[str, Any]:
    r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": seats},
                     headers={"Idempotency-Key": key or uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def hold_and_order(c: httpx.AsyncClient, event_id: int, seats: list[int]) -> int:
    await hold(c, event_id, seats)
    return int((await order(c, event_id, seats))["orderId"])


async def pay(c: httpx.AsyncClient, order_id: int) -> dict[str, Any]:
    r = await c.post("/api/payments/authorize", json={"orderId": order_id})
    assert r.status_code in (200, 202), r.text
    return dict(r.json())
