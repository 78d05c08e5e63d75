"""This process's copy of the seat states of every event it serves, fed by the seat-change
channel in Redis.

Two readers use it: the live hub (broadcasts each event's map to the pages of this process)
and the hold path, which refuses a hold for a seat the copy shows sold or held by someone
else without a Redis round trip (`domain.seats.refusal_from_copy`). A success only ever comes
from the hold script, so the copy can cost a buyer a retry, never a seat sold twice.

How the copy stays true:
- Every visible change is published by the Lua script that made it, with the event's version
  (strictly increasing). The copy applies them in order; a gap (pub/sub is at-most-once), a
  `reset` (the event was rebuilt from the database), a layout change or a lost subscription
  reloads the event from one Redis snapshot. Messages that arrive while the reload runs are
  buffered and replayed on top of the snapshot.
- A lost message with nothing after it would leave no gap to see, so once a second the mirror
  reads each copy's version and sales switches from Redis (one pipelined round trip per
  process): a copy still behind a version Redis had at the previous check is reloaded.
- A hold is refused from the copy only until the expiry the script published with it, so even
  a lost release stops refusing when the hold would have ended anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from redis.asyncio import Redis

from ticketing_app.clients.pubsub import ChannelSubscription, seat_channels
from ticketing_app.holds.answers import Snapshot
from ticketing_app.holds.keys import LIVE_PATTERN, EventKeys, event_id_from_channel

log = structlog.get_logger(__name__)

IDLE_EVICT_S = 600.0
CHECK_INTERVAL_S = 1.0

# A taken seat: (code, tag, until ms). Code H: held or in an order awaiting payment (tag names
# the holder, until is the published expiry); S: sold; B: blocked by the organiser.
Taken = tuple[str, str, int]
Change = tuple[int, str, str, int]  # (seat, code A/H/S/B, tag, until ms)
SnapshotReader = Callable[[int], Awaitable[Snapshot]]


class MirrorListener(Protocol):
    """Told about every change a copy takes (the live hub)."""

    def on_changes(self, event_id: int, version: int, changes: list[Change]) -> None: ...

    def on_reset(self, event_id: int) -> None:
        """The copy was reloaded from a snapshot: read it whole again."""

    def on_status(self, event_id: int, onsale: bool) -> None:
        """The event's sales opened or closed (closed, cancelled): pages say so at once."""


@dataclass
class SeatCopy:
    event_id: int
    version: int
    taken: dict[int, Taken]
    onsale: bool = True
    room_off: bool = True  # the waiting room is off (a room on gates every claim)
    last_used: float = field(default_factory=time.monotonic)
    ahead: int = 0  # a version Redis had at the last check that this copy had not reached

    def code(self, seat_id: int) -> str:
        """A (available), S, B or H<tag>: the live map's code of a seat."""
        t = self.taken.get(seat_id)
        if t is None:
            return "A"
        return f"H{t[1]}" if t[0] == "H" else t[0]


def copy_from_snapshot(event_id: int, snap: Snapshot) -> SeatCopy:
    taken: dict[int, Taken] = {}
    for seat, st in snap.states.items():
        if st.code in ("H", "O"):
            if st.expires_at_ms > snap.now_ms:
                taken[seat] = ("H", st.tag, st.expires_at_ms)
        elif st.code in ("S", "B"):
            taken[seat] = (st.code, "", 0)
    return SeatCopy(event_id=event_id, version=snap.version, taken=taken)


def parse_changes(raw: Any) -> list[Change]:
    out: list[Change] = []
    for entry in raw or []:
        seat, code = int(entry[0]), str(entry[1])
        tag = str(entry[2]) if len(entry) > 2 else ""
        until = int(entry[3]) if len(entry) > 3 else 0
        out.append((seat, code, tag, until))
    return out


class SeatMirror:
    def __init__(self, redis: Redis, snapshot: SnapshotReader,
                 check_interval_s: float = CHECK_INTERVAL_S,
                 idle_evict_s: float = IDLE_EVICT_S):
        self.redis = redis
        self.snapshot = snapshot
        self.check_interval_s = check_interval_s
        self.idle_evict_s = idle_evict_s
        self.copies: dict[int, SeatCopy] = {}
        self.listeners: list[MirrorListener] = []
        self.pinned: Callable[[int], bool] = lambda _: False  # events a listener still needs
        self._loading: dict[int, asyncio.Task[SeatCopy]] = {}
        self._pending: dict[int, list[dict[str, Any]]] = {}
        self._again: set[int] = set()
        self._stop = asyncio.Event()
        self.subscribed = asyncio.Event()
        self._channels: ChannelSubscription | None = None
        self.reloads = 0

    # ---- readers ------------------------------------------------------------------------
    def peek(self, event_id: int) -> SeatCopy | None:
        """The copy if this process has one (marks it used); never waits."""
        c = self.copies.get(event_id)
        if c is not None:
            c.last_used = time.monotonic()
        return c

    def want(self, event_id: int) -> SeatCopy | None:
        """The copy, or None while it is first loaded (in the background)."""
        c = self.peek(event_id)
        if c is None and self.subscribed.is_set():
            self._start_load(event_id)
        return c

    async def watch(self, event_id: int) -> SeatCopy:
        """The copy, loaded from a snapshot on first use."""
        c = self.peek(event_id)
        if c is not None:
            return c
        return await asyncio.shield(self._start_load(event_id))

    # ---- loading ------------------------------------------------------------------------
    def _start_load(self, event_id: int, again: bool = False) -> asyncio.Task[SeatCopy]:
        """`again`: a reload already running may have read its snapshot too early (before a
        Redis restart): run one more after it."""
        task = self._loading.get(event_id)
        if task is not None and not task.done():
            if again:
                self._again.add(event_id)
            return task
        self._pending.setdefault(event_id, [])
        task = asyncio.ensure_future(self._load(event_id))
        task.add_done_callback(functools.partial(self._load_done, event_id))
        self._loading[event_id] = task
        return task

    def _load_done(self, event_id: int, task: asyncio.Task[SeatCopy]) -> None:
        if self._loading.get(event_id) is task:
            self._loading.pop(event_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.warning("seat_copy_load_failed", event_id=event_id, error=str(task.exception()))
        if event_id in self._again:
            self._again.discard(event_id)
            self._start_load(event_id)

    async def _load(self, event_id: int) -> SeatCopy:
        try:
            # Subscribed to the event's channel before the snapshot is read: every change
            # after the snapshot is then heard (and buffered while this load runs).
            if self._channels is not None:
                await self._channels.add(EventKeys(event_id).channel)
            snap = await self.snapshot(event_id)
        except BaseException:
            self._pending.pop(event_id, None)
            raise
        copy = copy_from_snapshot(event_id, snap)
        old = self.copies.get(event_id)
        if old is not None:
            copy.last_used = old.last_used
            copy.onsale, copy.room_off = old.onsale, old.room_off
        self.copies[event_id] = copy
        self.reloads += 1
        # What was published after the snapshot was read is newer: apply it, in order.
        for message in self._pending.pop(event_id, []):
            self.apply(message)
        for listener in self.listeners:
            listener.on_reset(event_id)
        return copy

    def reload(self, event_id: int) -> None:
        if event_id in self.copies or event_id in self._loading:
            self._start_load(event_id, again=True)

    # ---- the channel --------------------------------------------------------------------
    def apply(self, message: dict[str, Any]) -> None:
        event_id = int(message.get("e", 0))
        pending = self._pending.get(event_id)
        if pending is not None:
            pending.append(message)  # a reload is running: replayed on top of its snapshot
            return
        copy = self.copies.get(event_id)
        if copy is None:
            return  # nobody here serves it
        if message.get("meta"):
            self._refresh_meta_soon(event_id)
            return
        if message.get("reset"):
            self.reload(event_id)
            return
        version = int(message.get("v", 0))
        if version <= copy.version:
            return  # already reflected (a reload overtook it)
        if version != copy.version + 1:
            self.reload(event_id)  # a gap: pub/sub lost a message
            return
        changes = parse_changes(message.get("c"))
        for seat, code, tag, until in changes:
            if code == "A":
                copy.taken.pop(seat, None)
            else:
                copy.taken[seat] = (code, tag if code == "H" else "", until)
        copy.version = version
        for listener in self.listeners:
            listener.on_changes(event_id, version, changes)

    async def _listen(self) -> None:
        while not self._stop.is_set():
            channels: ChannelSubscription | None = None
            try:
                # Sharded pub/sub: each event's channel on its shard, subscribed as its copy
                # loads (_load); one pattern on a server without it (clients/pubsub.py).
                channels = await seat_channels(self.redis, LIVE_PATTERN)
                self._channels = channels
                self.subscribed.set()
                # Anything published while we were not subscribed is missed, and Redis may
                # have restarted empty or failed over: reload every copy from the truth
                # (which subscribes its channel again).
                for event_id in list(self.copies):
                    self.reload(event_id)
                async for channel, data in channels.messages():
                    try:
                        self.apply(json.loads(data))
                    except (ValueError, KeyError, TypeError, IndexError) as exc:
                        self._bad_message(channel, exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("seat_copy_listen_reconnect", error=str(exc))
                await asyncio.sleep(0.5)
            finally:
                self.subscribed.clear()
                self._channels = None
                if channels is not None:
                    await channels.aclose()

    def _bad_message(self, channel: str, exc: Exception) -> None:
        log.warning("bad_live_message", channel=channel, error=str(exc))
        eid = event_id_from_channel(channel)
        if eid is not None:
            self.reload(eid)

    # ---- the once-a-second check ------------------------------------------------------
    def _refresh_meta_soon(self, event_id: int) -> None:
        task = asyncio.ensure_future(self._check([event_id]))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _check(self, event_ids: list[int]) -> None:
        """Versions and sales switches of these copies, in one round trip."""
        if not event_ids:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for eid in event_ids:
                k = EventKeys(eid)
                pipe.get(f"{k.base}:ver")
                pipe.hmget(k.meta, ["onsale", "wrmode", "wron_until"])
            pipe.time()
            res = await pipe.execute()
        sec, usec = res[-1]
        now_ms = int(sec) * 1000 + int(usec) // 1000
        for i, eid in enumerate(event_ids):
            copy = self.copies.get(eid)
            if copy is None or eid in self._loading:
                continue
            ver = int(res[2 * i] or 0)
            onsale, mode, until = res[2 * i + 1]
            was, copy.onsale = copy.onsale, onsale in (b"1", "1")
            if was != copy.onsale:
                for listener in self.listeners:
                    listener.on_status(eid, copy.onsale)
            mode = (mode.decode() if isinstance(mode, bytes) else mode) or "off"
            copy.room_off = mode == "off" or (mode == "auto" and int(until or 0) <= now_ms)
            if copy.ahead and copy.version < copy.ahead:
                log.info("seat_copy_behind", event_id=eid, version=copy.version, redis=ver)
                copy.ahead = 0
                self.reload(eid)
                continue
            copy.ahead = ver if ver > copy.version else 0

    async def _check_loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.check_interval_s)
            if self._stop.is_set():
                return
            self._evict_idle()
            try:
                await self._check(list(self.copies))
            except Exception as exc:  # Redis away: the listener reloads when it is back
                log.debug("seat_copy_check_failed", error=str(exc))

    def _evict_idle(self) -> None:
        now = time.monotonic()
        for eid, copy in list(self.copies.items()):
            if now - copy.last_used > self.idle_evict_s and eid not in self._loading \
                    and not self.pinned(eid):
                self.copies.pop(eid, None)
                if self._channels is not None:
                    self._channels.discard(EventKeys(eid).channel)

    # ---- lifetime -----------------------------------------------------------------------
    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(), name="seat-copy-listen")
        checker = asyncio.create_task(self._check_loop(), name="seat-copy-check")
        try:
            await asyncio.gather(listener, checker)
        finally:
            listener.cancel()
            checker.cancel()
            for task in list(self._loading.values()):
                task.cancel()

    def stop(self) -> None:
        self._stop.set()
