"""Live seat changes for the clients of the seat stream (the original's Server-Sent Events,
`GET /api/events/{id}/seats/stream`, served by `api/seat_stream.py`): one fan-out per process.

Where the changes come from. The feed listens to this process's seat mirror
(`holds/mirror.py`), which follows the seat-change channel in version order and reloads an
event's copy whenever it doubts it (a gap, a rebuilt event, a lost subscription). Every process
reads the same source of truth, so any web or API process can serve any client, and a client
may reconnect to another one.

What a client gets, in version order (versions strictly increase per event):
- on connect, an INIT: the whole seat map (the `GET /seats` body) at the copy's version;
- then one update per version, with the seats that changed in it;
- a fresh INIT whenever the copy was reloaded to a version the updates did not lead to (the
  mirror saw a gap, the event was rebuilt after Redis lost it);
- a heartbeat every SSE_HEARTBEAT_S.
A reconnect that says which version it has (Last-Event-ID) gets exactly the versions after it,
from the event's change log in Redis (`holds/change_log.py`), or an INIT when the log no longer
reaches back that far.

Memory per client is bounded: items are shared between clients (made and encoded once per
change), and each client has a mailbox of at most SSE_CLIENT_QUEUE items. A client that stops
reading fills its mailbox and is dropped (its stream closed), not buffered for ever; the others
never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import structlog

from ticketing_app.domain import errors
from ticketing_app.domain.seats import CODE_TO_STATUS
from ticketing_app.holds.change_log import ChangeLog
from ticketing_app.holds.mirror import Change, SeatCopy, SeatMirror
from ticketing_app.observability import metrics
from ticketing_app.services.catalog import CatalogService, Layout, seat_map_body

log = structlog.get_logger(__name__)

INIT, UPDATE, BEAT = "INIT", "SEAT_UPDATE", "BEAT"
SeatStatus = tuple[int, str]  # (seat id, public status)
SHUTDOWN_SEND_S = 1.0  # at shutdown, a send under way gets this long before it is cut off


@dataclass(eq=False)
class Item:
    """One thing to send, shared by every client of the event. `offset`: how many seats of
    this version an earlier, partial item already carried (a resumed half-sent version)."""

    kind: str
    version: int
    seats: tuple[SeatStatus, ...] = ()
    body: dict[str, Any] | None = None  # INIT: the seat map
    offset: int = 0
    wire: bytes | None = None  # the encoding, made once by the first writer that needs it


BEAT_ITEM = Item(BEAT, -1)


def statuses(changes: list[Change]) -> tuple[SeatStatus, ...]:
    return tuple((seat, CODE_TO_STATUS[code].value) for seat, code, _, _ in changes)


def parse_position(raw: str | None) -> tuple[int, int] | None:
    """A Last-Event-ID as this stream writes it: `<version>` (everything up to and including
    that version was received) or `<version>:<n>` (the first n seats of that version were);
    None for anything else (the client then gets a fresh INIT)."""
    if not raw:
        return None
    version, _, part = raw.strip().partition(":")
    if not version.isdigit() or len(version) > 18 or (part and not part.isdigit()):
        return None
    return int(version), int(part or 0)


class Subscription:
    """One client's place in the feed: a bounded mailbox and the last version it was given."""

    def __init__(self, event_id: int, limit: int):
        self.event_id = event_id
        self.limit = limit
        self.items: deque[Item] = deque()
        self.last = -1  # the newest version handed to the client
        self.skip: tuple[int, int] | None = None  # (version, seats of it already received)
        self.closed: str | None = None  # why: "dropped", "shutdown", "gone"
        self.sending = False  # the writer is inside a send (the client's socket may be full)
        self.writer: asyncio.Task[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, item: Item) -> bool:
        """False when the mailbox is full: the client is not reading."""
        if self.closed:
            return True
        if len(self.items) >= self.limit:
            return False
        self.items.append(item)
        self._wake()
        return True

    async def take(self) -> list[Item]:
        """What is due to the client, in order (waits for at least one item); [] once closed.
        Versions the client already has are left out."""
        while True:
            while not self.items and not self.closed:
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            if self.closed:
                return []
            out = self._due()
            if out:
                return out

    def _due(self) -> list[Item]:
        out: list[Item] = []
        while self.items:
            item = self.items.popleft()
            if item.kind == BEAT:
                out.append(item)
                continue
            if item.version <= self.last:
                continue
            if self.skip is not None and item.kind == UPDATE and item.version == self.skip[0]:
                done = self.skip[1]
                item = Item(UPDATE, item.version, item.seats[done:], offset=done)
            self.skip = None
            self.last = item.version
            if item.seats or item.kind == INIT:
                out.append(item)
        return out

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = reason
        self.items.clear()
        self._wake()
        if reason == "shutdown":
            # A send under way most likely completes at once: then the stream ends cleanly.
            asyncio.get_running_loop().call_later(SHUTDOWN_SEND_S, self._cut)
        else:
            self._cut()

    def _cut(self) -> None:
        """Cancels a send that is stuck on a client that does not read."""
        if self.sending and self.writer is not None:
            self.writer.cancel()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


@dataclass(eq=False)
class EventFeed:
    """The clients of one event in this process, and the version they have been led to."""

    event_id: int
    version: int
    layout: Layout
    subs: set[Subscription] = field(default_factory=set)
    init: Item | None = None  # the latest INIT made (reused while the version stands)

    def init_item(self, copy: SeatCopy) -> Item:
        if self.init is None or self.init.version != copy.version:
            body = seat_map_body(self.layout, copy.version, lambda s: copy.code(s)[0])
            self.init = Item(INIT, copy.version, body=body)
        return self.init


class SeatFeed:
    def __init__(self, mirror: SeatMirror, catalog: CatalogService, change_log: ChangeLog,
                 client_queue: int, max_clients: int, heartbeat_s: float):
        """Changes from `mirror` (this process's copy of the seat maps), seat layouts and the
        published-event check from `catalog`, replays from `change_log`; each client may have
        `client_queue` items waiting; at most `max_clients` at once; a heartbeat every
        `heartbeat_s`."""
        self.mirror = mirror
        self.catalog = catalog
        self.change_log = change_log
        self.client_queue = client_queue
        self.max_clients = max_clients
        self.heartbeat_s = heartbeat_s
        self.feeds: dict[int, EventFeed] = {}
        self.clients = 0
        self.dropped = 0
        self._stop = asyncio.Event()
        self._stopped = False
        mirror.listeners.append(self)

    # ---- clients ------------------------------------------------------------------------
    async def subscribe(self, event_id: int, last_event_id: str | None = None) -> Subscription:
        """A new client of a published event (EventNotFound otherwise), starting after
        `last_event_id` when the log still reaches back to it, else with an INIT."""
        if self._stopped:
            raise errors.ServiceUnavailable("This server is shutting down; retry shortly.")
        if self.clients >= self.max_clients:
            raise errors.TooManyStreams()
        sub = Subscription(event_id, self.client_queue)
        self._count(+1)  # the place is taken now: clients connecting at once cannot overshoot
        try:
            await self.catalog.public_event(event_id)
            layout = await self.catalog.layout(event_id)
            copy = await self.mirror.watch(event_id)
            # From here to the registration nothing awaits: the client sees every change the
            # mirror applies after `copy.version`.
            feed = self.feeds.get(event_id)
            if feed is None:
                feed = self.feeds[event_id] = EventFeed(event_id, copy.version, layout)
            elif feed.layout is not layout:  # read again (it is cached for a few seconds)
                feed.layout, feed.init = layout, None
            feed.subs.add(sub)
            await self._start(feed, sub, copy, parse_position(last_event_id))
        except BaseException:
            self.unsubscribe(sub, "gone")
            raise
        return sub

    async def _start(self, feed: EventFeed, sub: Subscription, copy: SeatCopy,
                     position: tuple[int, int] | None) -> None:
        """The client's first items: an INIT, or the versions it missed."""
        base = copy.version
        if position is None:
            sub.items.appendleft(feed.init_item(copy))
            return
        version, seen = position
        after = version - 1 if seen else version  # versions the client has whole
        if after >= base:
            # Up to date with this process's copy, or ahead of it (it was served by a process
            # that heard of a change first): the copy's next changes lead on from there. A
            # version Redis never had (a client of another deployment) gets an INIT.
            if after == base or version <= await self.change_log.version(feed.event_id):
                sub.last, sub.skip = after, (position if seen else None)
                metrics.SSE_RESUMES.labels("current").inc()
                return
            self._restart(feed, sub)
            return
        missed = await self.change_log.between(feed.event_id, after, base)
        if missed is None:
            self._restart(feed, sub)
            return
        sub.last, sub.skip = after, (position if seen else None)
        sub.items.extendleft(reversed([Item(UPDATE, v, statuses(c)) for v, c in missed]))
        metrics.SSE_RESUMES.labels("replayed").inc()

    def _restart(self, feed: EventFeed, sub: Subscription) -> None:
        """The client starts again from an INIT of the copy as it is now; what it has waiting
        up to that version is left out by `take`."""
        copy = self.mirror.copies.get(feed.event_id)
        if copy is None:
            self.unsubscribe(sub, "gone")  # the copy went away meanwhile: it reconnects
            return
        sub.last, sub.skip = -1, None
        sub.items.appendleft(feed.init_item(copy))
        metrics.SSE_RESUMES.labels("init").inc()

    def unsubscribe(self, sub: Subscription, reason: str = "gone") -> None:
        """The client is gone, dropped or shut out: idempotent."""
        if sub.closed is None:
            self._count(-1)
        sub.close(reason)
        feed = self.feeds.get(sub.event_id)
        if feed is not None and sub in feed.subs:
            feed.subs.discard(sub)
            if not feed.subs:
                del self.feeds[sub.event_id]

    def _count(self, delta: int) -> None:
        self.clients += delta
        metrics.SSE_CLIENTS.inc(delta)

    def _offer(self, feed: EventFeed, item: Item) -> None:
        for sub in list(feed.subs):
            if not sub.offer(item):
                self.dropped += 1
                metrics.SSE_DROPPED.inc()
                log.warning("sse_client_dropped", event_id=feed.event_id, waiting=len(sub.items))
                self.unsubscribe(sub, "dropped")

    # ---- the mirror tells us ------------------------------------------------------------
    def on_changes(self, event_id: int, version: int, changes: list[Change]) -> None:
        feed = self.feeds.get(event_id)
        if feed is None:
            return
        if version != feed.version + 1:
            # Not the next version for our clients (the mirror is replaying changes on top of
            # a reload): hold on; the reload's reset brings them level with an INIT.
            return
        feed.version = version
        self._offer(feed, Item(UPDATE, version, statuses(changes)))

    def on_reset(self, event_id: int) -> None:
        feed = self.feeds.get(event_id)
        copy = self.mirror.copies.get(event_id)
        if feed is None or copy is None or copy.version == feed.version:
            return  # nothing our clients do not have (a reload that found nothing new)
        feed.version = copy.version
        self._offer(feed, feed.init_item(copy))

    def on_status(self, event_id: int, onsale: bool) -> None:
        """The original's stream carries seats only; a sale's status is not its news."""

    # ---- lifetime -----------------------------------------------------------------------
    async def run(self) -> None:
        """Heartbeats; and the copies of streamed events stay in the mirror while they are
        streamed (it drops copies nobody used for a while)."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.heartbeat_s)
            if self._stop.is_set():
                return
            started = time.monotonic()
            for feed in list(self.feeds.values()):
                self.mirror.peek(feed.event_id)
                self._offer(feed, BEAT_ITEM)
            log.debug("sse_heartbeat", feeds=len(self.feeds), clients=self.clients,
                      ms=round((time.monotonic() - started) * 1000, 1))

    def stop(self) -> None:
        """Process shutdown: every stream ends (cleanly, unless its client stopped reading),
        and no new one starts."""
        self._stopped = True
        self._stop.set()
        for feed in list(self.feeds.values()):
            for sub in list(feed.subs):
                self.unsubscribe(sub, "shutdown")
