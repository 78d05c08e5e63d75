"""Live seat maps for one web process.

Every backend process subscribes to the seat-change channels in Redis, keeps the current seat
codes of each event its sessions are watching, and broadcasts one precomputed snapshot per
event to that event's Socket.IO room, coalescing bursts (at most one broadcast per event every
LIVE_SYNC_FLUSH_MS). Serialising once per room instead of writing every session's state is
what keeps fan-out flat at a thousand sessions (notes, section 5).

Each broadcast is a whole snapshot with its version, so a missed or reordered message cannot
leave a page wrong: the page shows the newest version it has seen. A gap in versions on the
channel (Redis pub/sub is at-most-once) makes the hub reload that event from Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from ticketing_app.holds.keys import LIVE_PATTERN, event_id_from_channel
from ticketing_app.holds.store import Snapshot
from ticketing_app.observability import metrics

if TYPE_CHECKING:
    from ticketing_app.runtime import Runtime

log = structlog.get_logger(__name__)

Broadcast = Callable[[int, dict[str, Any]], Awaitable[None]]
IDLE_EVICT_S = 600.0


def seat_code(snap: Snapshot, seat_id: int) -> str:
    """A: available, S: sold, B: blocked, H<tag>: held (the tag lets a page spot its own)."""
    st = snap.states.get(seat_id)
    if st is None:
        return "A"
    if st.code in ("H", "O"):
        return f"H{st.tag}" if st.expires_at_ms > snap.now_ms else "A"
    return st.code


@dataclass
class EventView:
    event_id: int
    index: dict[int, int]  # seat id -> position in `codes` (the layout's order)
    codes: list[str]
    version: int
    dirty: bool = False
    last_used: float = field(default_factory=time.monotonic)

    def payload(self) -> dict[str, Any]:
        return {"e": self.event_id, "v": self.version, "s": list(self.codes)}


class LiveHub:
    def __init__(self, rt: Runtime, broadcast: Broadcast, flush_ms: int | None = None):
        self.rt = rt
        self.broadcast = broadcast
        self.flush_s = (flush_ms or rt.settings.live_sync_flush_ms) / 1000
        self.views: dict[int, EventView] = {}
        self._loading: dict[int, asyncio.Task[EventView]] = {}
        self._stop = asyncio.Event()
        self.broadcasts = 0

    # ---- what pages read ----------------------------------------------------------------
    async def watch(self, event_id: int) -> EventView:
        """The current view of an event (loaded from Redis on first use)."""
        view = self.views.get(event_id)
        if view is not None:
            view.last_used = time.monotonic()
            return view
        task = self._loading.get(event_id)
        if task is None:
            task = asyncio.ensure_future(self._load(event_id))
            self._loading[event_id] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._loading.pop(event_id, None)

    def peek(self, event_id: int) -> EventView | None:
        return self.views.get(event_id)

    async def _load(self, event_id: int) -> EventView:
        layout = await self.rt.catalog.layout(event_id)
        snap = await self.rt.catalog.snapshot(event_id)
        view = EventView(
            event_id=event_id,
            index={s.id: i for i, s in enumerate(layout.seats)},
            codes=[seat_code(snap, s.id) for s in layout.seats],
            version=snap.version,
        )
        old = self.views.get(event_id)
        if old is not None and old.version > view.version:
            return old
        self.views[event_id] = view
        if old is not None:
            view.dirty = True
        return view

    # ---- channel ------------------------------------------------------------------------
    def apply(self, message: dict[str, Any]) -> None:
        event_id = int(message.get("e", 0))
        view = self.views.get(event_id)
        if view is None:
            return  # nobody here watches it
        version = int(message.get("v", 0))
        if version <= view.version:
            return  # already reflected (a resync overtook it)
        if message.get("reset") or version != view.version + 1:
            self._schedule_resync(event_id)
            return
        for seat, code, tag in message.get("c", []):
            idx = view.index.get(int(seat))
            if idx is None:  # a layout change: take it all again
                self._schedule_resync(event_id)
                return
            view.codes[idx] = f"H{tag}" if code == "H" else code
        view.version = version
        view.dirty = True

    def _schedule_resync(self, event_id: int) -> None:
        self.rt.catalog.forget(event_id)
        if event_id not in self._loading:
            self._loading[event_id] = asyncio.ensure_future(self._load(event_id))

    async def _listen(self) -> None:
        while not self._stop.is_set():
            pubsub = self.rt.redis.pubsub()
            try:
                await pubsub.psubscribe(LIVE_PATTERN)
                # Anything published while we were not subscribed is missed: resync all.
                for event_id in list(self.views):
                    self._schedule_resync(event_id)
                async for msg in pubsub.listen():
                    if msg.get("type") != "pmessage":
                        continue
                    try:
                        self.apply(json.loads(msg["data"]))
                    except (ValueError, KeyError, TypeError) as exc:
                        channel = msg.get("channel")
                        log.warning("bad_live_message", channel=str(channel), error=str(exc))
                        if isinstance(channel, bytes | str):
                            eid = event_id_from_channel(channel.decode() if isinstance(
                                channel, bytes) else channel)
                            if eid is not None and eid in self.views:
                                self._schedule_resync(eid)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live_listen_reconnect", error=str(exc))
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _flush_loop(self) -> None:
        while not self._stop.is_set():
            await asyncio.sleep(self.flush_s)
            for event_id in list(self._loading):
                task = self._loading[event_id]
                if task.done():
                    self._loading.pop(event_id, None)
                    with contextlib.suppress(Exception):
                        task.result()
            now = time.monotonic()
            for view in list(self.views.values()):
                if view.dirty:
                    view.dirty = False
                    try:
                        await self.broadcast(view.event_id, view.payload())
                        self.broadcasts += 1
                        metrics.LIVE_BROADCASTS.inc()
                    except Exception as exc:
                        log.warning("live_broadcast_failed", error=str(exc))
                elif now - view.last_used > IDLE_EVICT_S:
                    self.views.pop(view.event_id, None)

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(), name="live-listen")
        flusher = asyncio.create_task(self._flush_loop(), name="live-flush")
        try:
            await asyncio.gather(listener, flusher)
        finally:
            listener.cancel()
            flusher.cancel()

    def stop(self) -> None:
        self._stop.set()
