"""Helpers for the admin, check-in, refund and cancellation tests: a signed-in admin client
and confirmed orders bought through the real API, worker and payment saga."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import aiohttp
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


class AdminTab:
    """An admin page's tab without a browser: Reflex's websocket protocol (as
    bench/live_client.py speaks it), with the admin cookie in the handshake as a browser
    sends it. Keeps every update the server pushes: state deltas and events (redirects)."""

    NAMESPACE = "/_event"

    def __init__(self, base_url: str, path: str, cookie: str, root_state: str, version: str):
        """`root_state`, `version`: Reflex's root state name and version, found outside the
        event loop (Reflex registers states in a context variable: importing them inside an
        async test leaves later imports elsewhere without it)."""
        self.base_url, self.path, self.cookie = base_url, path, cookie
        self.token = str(uuid.uuid4())
        self.root_state, self.version = root_state, version
        self.updates: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self.connected = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None

    def _router(self) -> dict[str, str]:
        return {"pathname": self.path, "asPath": self.path}

    async def __aenter__(self) -> AdminTab:
        ws_url = self.base_url.replace("http://", "ws://")
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(
            f"{ws_url}/_event/?EIO=4&transport=websocket&token={self.token}",
            protocols=(self.version,), headers={"Cookie": self.cookie}, max_msg_size=0)
        self._task = asyncio.create_task(self._read(self._ws))
        await asyncio.wait_for(self.connected.wait(), 30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._http is not None:
            await self._http.close()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        ns = self.NAMESPACE
        async for msg in ws:
            data = str(msg.data)
            if data.startswith("0"):  # Engine.IO open: connect, booting the page (on_load)
                boot = {"name": f"{self.root_state}.hydrate_and_load", "payload": {},
                        "router_data": self._router()}
                await ws.send_str(f"40{ns},{json.dumps({'event': boot})}")
            elif data == "2":
                await ws.send_str("3")
            elif data.startswith(f"40{ns}"):
                self.connected.set()
            elif data.startswith(f"42{ns},"):
                name, *args = json.loads(data[len(f"42{ns},"):])
                if name == "event" and args and isinstance(args[0], dict):
                    self.updates.append(args[0])
                    self.changed.set()

    async def emit(self, handler: str) -> None:
        """Send an event as the page's code would (`<state full name>.<handler>`)."""
        assert self._ws is not None
        event = {"name": handler, "payload": {}, "router_data": self._router()}
        await self._ws.send_str(f'42{self.NAMESPACE},{json.dumps(["event", event])}')

    def fields(self, state: str) -> set[str]:
        """Names of `state`'s vars the server has pushed so far."""
        out: set[str] = set()
        for u in self.updates:
            delta = (u.get("delta") or {}).get(state) or {}
            out |= {k.removesuffix("_rx_state_") for k in delta}
        return out

    def redirects(self) -> list[str]:
        return [str((e.get("payload") or {}).get("path", "")) for u in self.updates
                for e in (u.get("events") or []) if e.get("name") == "_redirect"]

    async def wait_for(self, check: Any, timeout: float) -> bool:
        """Waits for pushed updates to satisfy `check()` (a correctness deadline)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not check():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            self.changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)
        return True
