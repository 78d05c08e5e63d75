"""A Reflex websocket session without a browser: what a booking page's tab does on the wire.

It speaks the same protocol as Reflex's frontend (Engine.IO 4 over a websocket at `/_event`,
Socket.IO namespace `/_event`, the page's `hydrate_and_load` event carried in the CONNECT
packet), so the server cannot tell it from a browser: it is hydrated, runs the page's on_load
(which joins the event's live room), receives the room's broadcasts and answers pings. It
keeps the seat codes the page would show, by the page's own rule (components/seat_map.py: the
broadcast's seats over the map it has from their base on, else the server-computed snapshot),
asks for the map again (`resync`) where the page would, and records the time each version
arrived; and the arrival of the benchmark's reference broadcasts (`ref_n`).

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

from bench.waiting import until

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
    refs: dict[int, float] = field(default_factory=dict)  # reference seq -> time.time()
    resyncs: int = 0  # times it asked for the map again (a broadcast it could not place)
    # The seat map state's vars as the page holds them: a delta replaces only the vars it has.
    _vars: dict[str, Any] = field(default_factory=lambda: {
        "live_e": 0, "live_b": -1, "live_v": -1, "live_o": {}, "live_sv": -1, "live_s": [],
        "snap_v": -1, "snap_s": []})
    _asked_at: int = -1  # the broadcast version a resync was asked for
    broadcasts: list[dict[str, Any]] = field(default_factory=list)  # live deltas (tests)
    deaf: bool = False  # tests: broadcasts are lost on the way (ordinary updates still come)

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
        if "ref_n" in mine:
            self.refs.setdefault(int(mine["ref_n"]), now)
        if f"live_v{m}" in mine:
            if self.deaf:
                return
            self.broadcasts.append({k[:-len(m)]: v for k, v in mine.items() if k.endswith(m)})
        for name in self._vars:
            if f"{name}{m}" in mine:
                self._vars[name] = mine[f"{name}{m}"]
        version, codes, gap = shown(self._vars, self.event_id)
        if gap and self._ws is not None and self._asked_at != self._vars["live_v"]:
            self._asked_at = self._vars["live_v"]
            self.resyncs += 1
            asyncio.get_running_loop().create_task(self.emit("resync", {}))
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
        return await until(lambda: bool(predicate(self)), self.changed, timeout)

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


def shown(v: dict[str, Any], event_id: int) -> tuple[int, list[str], bool]:
    """(version, codes, gap) the page shows: components/seat_map.py's rule, in Python."""
    sv, ss = int(v["snap_v"]), list(v["snap_s"] or [])
    lb, lv, lsv = int(v["live_b"]), int(v["live_v"]), int(v["live_sv"])
    newer = int(v["live_e"]) == event_id and lv > sv
    placed = lb <= sv or lb <= lsv <= lv
    if not (newer and placed):
        return sv, ss, newer
    base = ss if lb <= sv else list(v["live_s"] or [])
    touched = v["live_o"] or {}
    return lv, [touched.get(str(i), c) for i, c in enumerate(base)], False


async def true_codes(rt: Any, event_id: int) -> list[str]:
    """The seat codes every page must end up showing: one Redis snapshot, in layout order,
    coded exactly as the web process's hub codes them."""
    from ticketing_app.holds.mirror import copy_from_snapshot

    rt.catalog.forget(event_id)
    layout = await rt.catalog.layout(event_id)
    copy = copy_from_snapshot(event_id, await rt.catalog.snapshot(event_id))
    return [copy.code(s.id) for s in layout.seats]
