"""Live seat maps for the pages of one web process.

The process's seat mirror (`holds/mirror.py`) keeps each event's seat states true, following
the seat-change channel and reloading on any doubt. The hub turns each watched event into the
page's form (one code per seat, in layout order) and broadcasts it to that event's Socket.IO
room, serialised once per room instead of once per session (notes, section 5).

What a broadcast carries: the seats that changed, not the map. Each event's view keeps a *base*
(a version whose whole map the pages have: the hub's own map when a page loaded, or one a
broadcast carried whole) and every seat touched since it, with its code now. A broadcast is
(base version, version, those seats): a page shows the map it has (any version from the base
on) with those seats put over it, so a missed broadcast costs nothing (the next one carries
all the seats since the base, not only its own), and a page that has no map that recent (it
missed the broadcast that moved the base) asks the server for the map again. Once more than a
few seats changed since the base (or the map was reloaded: a gap, a Redis restart, a layout
change), the next broadcast carries the whole map and becomes the new base.

Flushing is leading-edge: the first change after a quiet period goes out at once, and the
changes of a burst are coalesced into at most one broadcast per event every LIVE_SYNC_FLUSH_MS.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from ticketing_app.holds.mirror import Change, SeatCopy, SeatMirror
from ticketing_app.observability import metrics
from ticketing_app.services.catalog import CatalogService

log = structlog.get_logger(__name__)

Broadcast = Callable[[int, dict[str, Any]], Awaitable[None]]
IDLE_EVICT_S = 600.0


@dataclass
class EventView:
    event_id: int
    seats: list[int]  # the layout's order
    index: dict[int, int]  # seat id -> position in `codes`
    codes: list[str]
    version: int
    dirty: bool = False
    last_used: float = field(default_factory=time.monotonic)
    last_sent: float = 0.0  # monotonic time of the last broadcast (leading-edge flush)
    base: int = -1  # the version of the map the broadcasts build on
    touched: dict[int, str] = field(default_factory=dict)  # position -> code, since `base`
    whole: bool = True  # the next broadcast carries the whole map (first, or after a reload)
    last: dict[str, Any] | None = None  # the last broadcast (the benchmark's reference)
    open: bool = True  # the event is on sale (pages show a cancellation or closing at once)

    @property
    def rebase_after(self) -> int:
        """Seats touched since the base after which the whole map is sent instead: a small
        map is as cheap whole, a big one is not."""
        return max(16, min(256, len(self.seats) // 8))

    def payload(self) -> dict[str, Any]:
        """The next broadcast: `b` the base version, `v` the version, `o` the positions touched
        since the base with their codes; with `s`, the whole map (then `b` = `v`)."""
        if self.whole or len(self.touched) > self.rebase_after:
            self.base, self.touched, self.whole = self.version, {}, False
            out = {"e": self.event_id, "b": self.version, "v": self.version, "o": {},
                   "s": list(self.codes), "open": self.open}
        else:
            out = {"e": self.event_id, "b": self.base, "v": self.version,
                   "o": {str(i): c for i, c in self.touched.items()}, "open": self.open}
        self.last = out
        return out

    def take(self, copy: SeatCopy) -> None:
        """The whole map again from the copy (a reload): sent whole."""
        codes = [copy.code(s) for s in self.seats]
        if codes != self.codes or copy.version != self.version:
            self.codes, self.version, self.dirty, self.whole = codes, copy.version, True, True


class LiveHub:
    def __init__(self, mirror: SeatMirror, catalog: CatalogService, broadcast: Broadcast,
                 flush_ms: int, in_use: Callable[[int], bool] = lambda _: False):
        """Seat states from `mirror`, the layout (seat order) from `catalog`; `broadcast` sends
        an event's snapshot to its room, at most every `flush_ms` (LIVE_SYNC_FLUSH_MS);
        `in_use(event_id)`: some session of this process still watches the event (its view
        and the mirror's copy are then never evicted as idle)."""
        self.mirror = mirror
        self.catalog = catalog
        self.broadcast = broadcast
        self.flush_s = flush_ms / 1000
        self.in_use = in_use
        self.views: dict[int, EventView] = {}
        self._loading: dict[int, asyncio.Task[EventView]] = {}
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self.broadcasts = 0
        self.resyncs = 0
        self.mirror.listeners.append(self)
        self.mirror.pinned = lambda eid: eid in self.views

    # ---- what pages read ----------------------------------------------------------------
    async def watch(self, event_id: int) -> EventView:
        """The current view of an event (loaded on first use)."""
        view = self.views.get(event_id)
        if view is not None:
            view.last_used = time.monotonic()
            self.mirror.peek(event_id)
            return view
        return await asyncio.shield(self._start_load(event_id))

    def peek(self, event_id: int) -> EventView | None:
        return self.views.get(event_id)

    def _start_load(self, event_id: int) -> asyncio.Task[EventView]:
        task = self._loading.get(event_id)
        if task is not None and not task.done():
            return task
        task = asyncio.ensure_future(self._load(event_id))
        task.add_done_callback(functools.partial(self._load_done, event_id))
        self._loading[event_id] = task
        return task

    def _load_done(self, event_id: int, task: asyncio.Task[EventView]) -> None:
        if self._loading.get(event_id) is task:
            self._loading.pop(event_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.warning("live_view_load_failed", event_id=event_id, error=str(task.exception()))

    async def _load(self, event_id: int) -> EventView:
        layout = await self.catalog.layout(event_id)
        copy = await self.mirror.watch(event_id)
        seats = [s.id for s in layout.seats]
        view = EventView(event_id=event_id, seats=seats,
                         index={s: i for i, s in enumerate(seats)},
                         codes=[copy.code(s) for s in seats], version=copy.version,
                         open=copy.onsale)
        old = self.views.get(event_id)
        if old is not None:
            view.last_used, view.last_sent = old.last_used, old.last_sent
            view.dirty = old.codes != view.codes or old.version != view.version
        self.views[event_id] = view
        if view.dirty:
            self._wake.set()
        return view

    # ---- the mirror tells us ------------------------------------------------------------
    def on_changes(self, event_id: int, version: int, changes: list[Change]) -> None:
        view = self.views.get(event_id)
        if view is None:
            return  # nobody here watches it
        for seat, code, tag, _ in changes:
            idx = view.index.get(seat)
            if idx is None:  # a layout change: take the layout again
                self.relayout(event_id)
                return
            view.codes[idx] = view.touched[idx] = f"H{tag}" if code == "H" else code
        view.version = version
        view.dirty = True
        self._wake.set()

    def on_reset(self, event_id: int) -> None:
        view = self.views.get(event_id)
        copy = self.mirror.copies.get(event_id)
        if view is None or copy is None:
            return
        view.take(copy)
        if view.dirty:
            self._wake.set()

    def on_status(self, event_id: int, onsale: bool) -> None:
        view = self.views.get(event_id)
        if view is None or view.open == onsale:
            return
        view.open, view.dirty = onsale, True
        self._wake.set()

    def relayout(self, event_id: int) -> None:
        """Read the event's layout again (seats added or moved), then the map from the copy."""
        self.resyncs += 1
        self.catalog.forget(event_id)
        self._start_load(event_id)

    def resync(self, event_id: int) -> None:
        """Everything of one event again: layout from the database, seats from Redis."""
        self.relayout(event_id)
        self.mirror.reload(event_id)

    # ---- broadcasting -------------------------------------------------------------------
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
                elif self.in_use(view.event_id):
                    view.last_used = now
                    self.mirror.peek(view.event_id)
                elif now - view.last_used > IDLE_EVICT_S and view.event_id not in self._loading:
                    self.views.pop(view.event_id, None)
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
        """The flush loop; the mirror runs on its own (the web process's background tasks)."""
        await self._flush_loop()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
