"""Live seat maps for one web process.

Every backend process subscribes to the seat-change channels in Redis, keeps the current seat
codes of each event its sessions are watching, and broadcasts one precomputed snapshot per
event to that event's Socket.IO room. Serialising once per room instead of writing every
session's state is what keeps fan-out flat at a thousand sessions (notes, section 5).

Flushing is leading-edge: the first change after a quiet period goes out at once, and the
changes of a burst are coalesced into at most one broadcast per event every LIVE_SYNC_FLUSH_MS.

Each broadcast is a whole snapshot with its version, so a missed or reordered message cannot
leave a page wrong: the page shows the newest version it has seen. The hub itself follows the
channel message by message; a gap in versions (Redis pub/sub is at-most-once), a layout change,
a `reset` (the event was rebuilt from the database) or a lost subscription makes it reload the
event from a Redis snapshot. Messages that arrive while that reload runs are buffered and
replayed on top of the snapshot, so the reload never drops a change and never needs to compare
the snapshot with the view it replaces: after a Redis restart the snapshot is the truth even
if its version were lower than the old view's (the version is floored by the clock when an
event is loaded, see load_event.lua, so it is not).
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
    last_sent: float = 0.0  # monotonic time of the last broadcast (leading-edge flush)

    def payload(self) -> dict[str, Any]:
        return {"e": self.event_id, "v": self.version, "s": list(self.codes)}


class LiveHub:
    def __init__(self, rt: Runtime, broadcast: Broadcast, flush_ms: int | None = None):
        self.rt = rt
        self.broadcast = broadcast
        self.flush_s = (flush_ms or rt.settings.live_sync_flush_ms) / 1000
        self.views: dict[int, EventView] = {}
        self._loading: dict[int, asyncio.Task[EventView]] = {}
        # Messages received while an event's reload runs, replayed on top of its snapshot.
        self._pending: dict[int, list[dict[str, Any]]] = {}
        self._again: set[int] = set()  # reload once more when the running reload is done
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self.broadcasts = 0
        self.resyncs = 0

    # ---- what pages read ----------------------------------------------------------------
    async def watch(self, event_id: int) -> EventView:
        """The current view of an event (loaded from Redis on first use)."""
        view = self.views.get(event_id)
        if view is not None:
            view.last_used = time.monotonic()
            return view
        task = self._start_load(event_id)
        try:
            return await asyncio.shield(task)
        finally:
            if task.done() and self._loading.get(event_id) is task:
                self._loading.pop(event_id, None)

    def peek(self, event_id: int) -> EventView | None:
        return self.views.get(event_id)

    def _start_load(self, event_id: int, again: bool = False) -> asyncio.Task[EventView]:
        """`again`: a reload already running may have read its snapshot too early (before a
        Redis restart): run one more after it."""
        task = self._loading.get(event_id)
        if task is not None and not task.done():
            if again:
                self._again.add(event_id)
            return task
        self._pending.setdefault(event_id, [])
        task = asyncio.ensure_future(self._load(event_id))
        self._loading[event_id] = task
        return task

    async def _load(self, event_id: int) -> EventView:
        try:
            layout = await self.rt.catalog.layout(event_id)
            snap = await self.rt.catalog.snapshot(event_id)
        except BaseException:
            self._pending.pop(event_id, None)
            raise
        view = EventView(
            event_id=event_id,
            index={s.id: i for i, s in enumerate(layout.seats)},
            codes=[seat_code(snap, s.id) for s in layout.seats],
            version=snap.version,
        )
        old = self.views.get(event_id)
        if old is not None:
            view.last_used, view.last_sent = old.last_used, old.last_sent
            view.dirty = old.codes != view.codes or old.version != view.version
        self.views[event_id] = view
        # What was published after the snapshot was read is newer: apply it (in order).
        for message in self._pending.pop(event_id, []):
            self.apply(message)
        if event_id in self._again:
            self._again.discard(event_id)
            self._pending.setdefault(event_id, [])
            self._loading[event_id] = asyncio.ensure_future(self._load(event_id))
        if view.dirty:
            self._wake.set()
        return view

    # ---- channel ------------------------------------------------------------------------
    def apply(self, message: dict[str, Any]) -> None:
        event_id = int(message.get("e", 0))
        pending = self._pending.get(event_id)
        if pending is not None:
            pending.append(message)  # a reload is running: replayed on top of its snapshot
            return
        view = self.views.get(event_id)
        if view is None:
            return  # nobody here watches it
        version = int(message.get("v", 0))
        if message.get("reset"):
            self.resync(event_id)  # rebuilt from the database: take it all again
            return
        if version <= view.version:
            return  # already reflected (a reload overtook it)
        if version != view.version + 1:
            self.resync(event_id)  # a gap: pub/sub lost a message
            return
        for seat, code, tag in message.get("c", []):
            idx = view.index.get(int(seat))
            if idx is None:  # a layout change: take it all again
                self.resync(event_id)
                return
            view.codes[idx] = f"H{tag}" if code == "H" else code
        view.version = version
        view.dirty = True
        self._wake.set()

    def resync(self, event_id: int) -> None:
        """Reload one event's view from a Redis snapshot (layout re-read too)."""
        self.resyncs += 1
        self.rt.catalog.forget(event_id)
        self._start_load(event_id, again=True)

    async def _listen(self) -> None:
        while not self._stop.is_set():
            pubsub = self.rt.redis.pubsub()
            try:
                await pubsub.psubscribe(LIVE_PATTERN)
                # Anything published while we were not subscribed is missed, and Redis may
                # have restarted empty: reload every view from the truth.
                for event_id in list(self.views):
                    self.resync(event_id)
                async for msg in pubsub.listen():
                    if msg.get("type") != "pmessage":
                        continue
                    try:
                        self.apply(json.loads(msg["data"]))
                    except (ValueError, KeyError, TypeError) as exc:
                        self._bad_message(msg, exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live_listen_reconnect", error=str(exc))
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _bad_message(self, msg: dict[str, Any], exc: Exception) -> None:
        channel = msg.get("channel")
        log.warning("bad_live_message", channel=str(channel), error=str(exc))
        if isinstance(channel, bytes | str):
            name = channel.decode() if isinstance(channel, bytes) else channel
            eid = event_id_from_channel(name)
            if eid is not None and eid in self.views:
                self.resync(eid)

    def _reap_loads(self) -> None:
        for event_id, task in list(self._loading.items()):
            if task.done():
                self._loading.pop(event_id, None)
                if not task.cancelled() and task.exception() is not None:
                    log.warning("live_resync_failed", event_id=event_id,
                                error=str(task.exception()))

    async def _flush_loop(self) -> None:
        """Leading edge: a change after a quiet period goes out at once; a burst is coalesced
        into one broadcast per event every flush interval."""
        while not self._stop.is_set():
            self._wake.clear()  # a change from here on wakes the wait below at once
            wait = self.flush_s
            now = time.monotonic()
            for view in list(self.views.values()):
                if view.dirty:
                    due = view.last_sent + self.flush_s
                    if due <= now:
                        await self._send(view)
                    else:
                        wait = min(wait, due - now)
                elif now - view.last_used > IDLE_EVICT_S and view.event_id not in self._loading:
                    self.views.pop(view.event_id, None)
            self._reap_loads()
            if not any(v.dirty for v in self.views.values()):
                wait = self.flush_s * 20  # idle: sleep until a change wakes us
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(wait, 0.001))

    async def _send(self, view: EventView) -> None:
        view.dirty = False
        view.last_sent = time.monotonic()
        try:
            await self.broadcast(view.event_id, view.payload())
            self.broadcasts += 1
            metrics.LIVE_BROADCASTS.inc()
        except Exception as exc:
            log.warning("live_broadcast_failed", error=str(exc))

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
        self._wake.set()
