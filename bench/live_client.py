"""A Reflex websocket session without a browser: what a booking page's tab does on the wire.

It speaks the same protocol as Reflex's frontend (Engine.IO 4 over a websocket at `/_event`,
Socket.IO namespace `/_event`, the page's `hydrate_and_load` event carried in the CONNECT
packet), so the server cannot tell it from a browser: it is hydrated, runs the page's on_load
(which joins the event's live room), receives the room's broadcasts and answers pings. It
keeps the seat codes the page would show (the newer of the broadcast `live_*` vars and the
server-computed `snap_*` vars, exactly as components/seat_map.py chooses) and the time each
version arrived.

Used by the live-sync benchmark (scenario 5) and the reconnect-storm integration test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

NAMESPACE = "/_event"
FIELD_MARKER = "_rx_state_"


@dataclass(frozen=True)
class Protocol:
    """Names the server expects; computed once in a process that imports the app's states."""

    root_state: str  # e.g. "reflex___state____state"
    seat_state: str  # the full name of SeatMapState
    reflex_version: str

    @classmethod
    def discover(cls) -> Protocol:
        from reflex import constants
        from reflex.state import State

        from ticketing_app.state.seat_map import SeatMapState

        return cls(State.get_full_name(), SeatMapState.get_full_name(), constants.Reflex.VERSION)

    def as_dict(self) -> dict[str, str]:
        return {"root_state": self.root_state, "seat_state": self.seat_state,
                "reflex_version": self.reflex_version}


@dataclass
class LiveSession:
    base_url: str  # http://host:port of a web process
    event_id: int
    proto: Protocol
    token: str = field(default_factory=lambda: str(uuid.uuid4()))
    cookie: str = ""  # the buyer cookie header value, when a test needs one buyer identity
    version: int = -1
    codes: list[str] = field(default_factory=list)
    arrivals: dict[int, float] = field(default_factory=dict)  # version -> time.time()
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    hydrated: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    connects: int = 0
    errors: list[str] = field(default_factory=list)
    _ws: aiohttp.ClientWebSocketResponse | None = None
    _task: asyncio.Task[None] | None = None
    _live: tuple[int, int, list[str]] = (0, -1, [])  # (event, version, codes) of broadcasts
    _snap: tuple[int, list[str]] = (-1, [])  # (version, codes) computed by the server

    # ---- wire ----------------------------------------------------------------------------
    def _url(self) -> str:
        ws = self.base_url.replace("http://", "ws://").replace("https://", "wss://")
        return f"{ws}/_event/?EIO=4&transport=websocket&token={self.token}"

    def _boot_event(self) -> dict[str, Any]:
        path = f"/event/{self.event_id}"
        return {"name": f"{self.proto.root_state}.hydrate_and_load", "payload": {},
                "router_data": {"pathname": path, "asPath": path}}

    async def connect(self, http: aiohttp.ClientSession, timeout: float = 30) -> None:
        """Open the websocket and start reading; returns once the namespace is connected."""
        self.connected.clear()
        self.hydrated.clear()
        headers = {"Cookie": self.cookie} if self.cookie else {}
        self._ws = await http.ws_connect(self._url(), protocols=(self.proto.reflex_version,),
                                         headers=headers, timeout=aiohttp.ClientWSTimeout(
                                             ws_receive=None, ws_close=5),
                                         max_msg_size=0, autoping=True)
        self._task = asyncio.create_task(self._read(self._ws))
        await asyncio.wait_for(self.connected.wait(), timeout)
        self.connects += 1

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                await self._on_packet(ws, str(msg.data))
        except (aiohttp.ClientError, ConnectionError, asyncio.CancelledError):
            pass
        except Exception as exc:  # a protocol surprise: the test or scenario reports it
            self.errors.append(repr(exc))

    async def _on_packet(self, ws: aiohttp.ClientWebSocketResponse, data: str) -> None:
        kind = data[:1]
        if kind == "0":  # Engine.IO open: connect the namespace with the boot event
            auth = {"event": self._boot_event()}
            await ws.send_str(f"40{NAMESPACE},{json.dumps(auth)}")
        elif kind == "2":  # ping
            await ws.send_str("3")
        elif data.startswith(f"40{NAMESPACE}"):
            self.connected.set()
        elif data.startswith(f"44{NAMESPACE}"):
            self.errors.append(f"connect refused: {data[:200]}")
            self.connected.set()
        elif data.startswith(f"42{NAMESPACE},"):
            name, *args = json.loads(data[len(f"42{NAMESPACE},"):])
            if name == "event" and args and isinstance(args[0], dict):
                self._on_update(args[0])

    def _on_update(self, update: dict[str, Any]) -> None:
        delta = update.get("delta") or {}
        mine = delta.get(self.proto.seat_state)
        if not isinstance(mine, dict):
            return
        now = time.time()
        m = FIELD_MARKER
        if f"live_v{m}" in mine:
            self._live = (int(mine.get(f"live_e{m}", 0)), int(mine[f"live_v{m}"]),
                          list(mine.get(f"live_s{m}") or []))
        if f"snap_v{m}" in mine:
            self._snap = (int(mine[f"snap_v{m}"]), list(mine.get(f"snap_s{m}") or []))
        live_e, live_v, live_s = self._live
        if live_e == self.event_id and live_v > self._snap[0]:
            version, codes = live_v, live_s
        else:
            version, codes = self._snap
        if codes:
            self.hydrated.set()
        if version != self.version or codes != self.codes:
            self.version, self.codes = version, codes
            self.arrivals.setdefault(version, now)
            self.changed.set()

    # ---- what callers use ---------------------------------------------------------------
    async def emit(self, handler: str, payload: dict[str, Any]) -> None:
        """Sends a seat-map event as the page does (a click: `toggle_seat`, {"seat_id": 7})."""
        assert self._ws is not None, "not connected"
        path = f"/event/{self.event_id}"
        event = {"name": f"{self.proto.seat_state}.{handler}", "payload": payload,
                 "router_data": {"pathname": path, "asPath": path}}
        await self._ws.send_str(f"42{NAMESPACE},{json.dumps(['event', event])}")

    def code_of(self, index: int) -> str:
        return self.codes[index] if 0 <= index < len(self.codes) else ""

    async def wait_for(self, predicate: Any, timeout: float) -> bool:
        """Waits until predicate(self) is true; False on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)
        return True

    async def drop(self) -> None:
        """The connection dies (no goodbye), as a network drop would do it."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._ws, self._task = None, None

    async def close(self) -> None:
        await self.drop()


async def true_codes(rt: Any, event_id: int) -> list[str]:
    """The seat codes every page must end up showing: one Redis snapshot, in layout order,
    coded exactly as the web process's hub codes them."""
    from ticketing_app.holds.mirror import copy_from_snapshot

    rt.catalog.forget(event_id)
    layout = await rt.catalog.layout(event_id)
    copy = copy_from_snapshot(event_id, await rt.catalog.snapshot(event_id))
    return [copy.code(s.id) for s in layout.seats]
