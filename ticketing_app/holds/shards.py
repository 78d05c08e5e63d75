"""Redis Cluster failover: an event whose shard failed over is rebuilt from the database.

A replica is written to asynchronously, so a replica promoted after its primary died may lack
the primary's last writes: a seat sold or locked for an order a moment before the failure may
show as merely held, or free. Today's answer to a Redis that lost its data is to rebuild the
event from the database (sold seats, blocked seats, open orders' locks); on a cluster the
same rebuild runs per shard, for the events of the shards that failed over.

How a failover is noticed without `KEYS`:
- The loader stamps each event's meta with the id of the primary that served its slot when it
  was built (`node`; HoldStore.load).
- Every serving process runs `ShardWatch.check` beside the sweeper. When the cluster's primaries
  changed since it last looked (and once at start), it walks each primary's events with SCAN
  (`tk:{e*}:meta`) and compares each stamp with the primary now serving the event's slot. A
  stamp naming a node that failed, or that is now a replica, means the event's shard failed
  over: the event is dropped (only if its stamp is still that old one, in one script, so many
  processes noticing at once rebuild it once) and rebuilt from the database at once. So does a
  stamp naming a primary that serves no slot any more (right after a takeover the others do
  not flag it yet). A stamp naming a healthy primary that still serves other slots means the
  slot was moved on purpose (resharding, data intact): the stamp is only updated.
- A sale or an order in flight at the failover may reach the database after the rebuild read
  it: the database is read again twice (3 s and 10 s later) and its sales and open orders'
  locks put back over the state (load_event.lua 'repair'), touching nothing else.
- Holds (not in the database) on that shard are lost: the buyers hold again. Sold seats and
  order locks come back from the database; PostgreSQL stays the final arbiter meanwhile (a
  second sale of a seat is refused by its guarded update and refunded).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis

from ticketing_app.clients.lua_scripts import register
from ticketing_app.clients.redis_client import is_cluster
from ticketing_app.holds.keys import ACTIVE_EVENTS, PREFIX, EventKeys

log = structlog.get_logger(__name__)

META_MATCH = f"{PREFIX}:{{e*}}:meta"
# After a rebuild, the database is read again this long after (twice): past the end of any
# request or job in flight at the failover (its Redis and database timeouts, 3 s + 6 s).
REPAIR_AFTER_S = (3.0, 10.0)
STAMP_FIELD = "node"
# KEYS: the event's meta, then the keys to drop. ARGV[1]: the stamp that marks it stale.
_DROP_IF_STAMPED = """
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then return 0 end
redis.call('DEL', unpack(KEYS))
return 1
"""
_RESTAMP = """
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'node', ARGV[2])
return 1
"""


@dataclass(frozen=True)
class Topology:
    """Who serves what: slot ranges -> primary id, and every node's flags."""

    ranges: tuple[tuple[int, int, str], ...]
    flags: dict[str, frozenset[str]]
    addresses: dict[str, tuple[str, int]]

    def primary_of_slot(self, slot: int) -> str:
        for lo, hi, node_id in self.ranges:
            if lo <= slot <= hi:
                return node_id
        return ""

    def failed_over(self, node_id: str) -> bool:
        """The node an event was built on is gone, failed, demoted to a replica, or serves no
        slot any more (a failover takes all of a primary's slots at once, before the others
        have even flagged it: right after a takeover it still reads as a healthy primary).
        A primary that still serves other slots gave this one away on purpose (resharding)."""
        flags = self.flags.get(node_id)
        if flags is None or flags & {"fail", "fail?", "slave", "noaddr", "handshake"}:
            return True
        return not any(owner == node_id for _, _, owner in self.ranges)


async def topology(redis: Redis) -> Topology:
    nodes = await redis.cluster_nodes()  # type: ignore[attr-defined]
    ranges: list[tuple[int, int, str]] = []
    flags: dict[str, frozenset[str]] = {}
    addresses: dict[str, tuple[str, int]] = {}
    for addr, info in nodes.items():
        node_id = str(info["node_id"])
        node_flags = frozenset(str(info["flags"]).split(","))
        flags[node_id] = node_flags
        host, _, port = str(addr).rpartition(":")
        addresses[node_id] = (host, int(port.split("@", 1)[0] or 0))
        if "master" in node_flags and not node_flags & {"fail", "fail?"}:
            for rng in info.get("slots", []):
                ranges.append((int(rng[0]), int(rng[-1]), node_id))
    return Topology(tuple(sorted(ranges)), flags, addresses)


def _decode(v: bytes | str | None) -> str:
    return v.decode() if isinstance(v, bytes) else (v or "")


class ShardWatch:
    """Notices failed-over shards and rebuilds their events (see the module's docstring).
    `rebuild(event_id)` is the loader (CatalogService.load_event_state); a no-op on a plain
    Redis, whose restart the scripts already notice (NOT_LOADED)."""

    def __init__(self, redis: Redis, rebuild: Callable[[int], Awaitable[None]] | None = None,
                 repair: Callable[[int], Awaitable[None]] | None = None,
                 interval_s: float = 1.0, repair_after_s: tuple[float, ...] = REPAIR_AFTER_S
                 ) -> None:
        self.redis = redis
        self.rebuild = rebuild
        self.repair = repair
        self.repair_after_s = repair_after_s
        self._repairs: set[asyncio.Task[None]] = set()
        self.interval_s = interval_s
        self.enabled = is_cluster(redis)
        self._seen: tuple[tuple[int, int, str], ...] | None = None
        self._next = 0.0
        self.rebuilt = 0
        if self.enabled:
            self._drop = register(redis, _DROP_IF_STAMPED)
            self._restamp = register(redis, _RESTAMP)

    async def stamp(self, event_id: int) -> str:
        """The id of the primary serving this event's slot now ('' on a plain Redis)."""
        if not self.enabled:
            return ""
        slot = self.redis.keyslot(EventKeys(event_id).meta)  # type: ignore[attr-defined]
        return (await topology(self.redis)).primary_of_slot(int(slot))

    async def maybe_check(self) -> list[int]:
        """`check`, at most once per `interval_s` (the sweeper calls it every pass)."""
        if not self.enabled or time.monotonic() < self._next:
            return []
        self._next = time.monotonic() + self.interval_s
        return await self.check()

    async def check(self) -> list[int]:
        """Events rebuilt because their shard failed over (when the primaries changed)."""
        if not self.enabled:
            return []
        topo = await topology(self.redis)
        if topo.ranges == self._seen:
            return []
        log.info("cluster_primaries_changed", primaries=sorted({n for _, _, n in topo.ranges}))
        # The client's own node list may lag behind a failover: refresh it, and walk the
        # primaries this topology names, each through a client of its own.
        await self.redis.nodes_manager.initialize()  # type: ignore[attr-defined]
        rebuilt: list[int] = []
        for event_id in await self._events_on_primaries(topo):
            keys = EventKeys(event_id)
            stamp = _decode(await self.redis.hget(keys.meta, STAMP_FIELD))  # type: ignore[misc]
            await self.redis.sadd(ACTIVE_EVENTS, str(event_id))  # type: ignore[misc]
            now = topo.primary_of_slot(int(self.redis.keyslot(keys.meta)))  # type: ignore[attr-defined]
            if not stamp or not now or stamp == now:
                continue
            log.info("event_shard_changed", event_id=event_id, old=stamp, new=now,
                     failed_over=topo.failed_over(stamp))
            if topo.failed_over(stamp):
                if await self._drop(keys=[keys.meta, *_dropped(keys)], args=[stamp]):
                    log.warning("event_shard_failed_over", event_id=event_id, old=stamp,
                                new=now)
                    self.rebuilt += 1
                    rebuilt.append(event_id)
            else:
                await self._restamp(keys=[keys.meta], args=[stamp, now])
        for event_id in rebuilt:
            if self.rebuild is not None:
                try:
                    await self.rebuild(event_id)
                except Exception as exc:  # rebuilt on its next use instead
                    log.warning("event_rebuild_failed", event_id=event_id, error=str(exc))
            if self.repair is not None:
                task = asyncio.ensure_future(self._repair_later(event_id))
                self._repairs.add(task)
                task.add_done_callback(self._repairs.discard)
        self._seen = topo.ranges
        return rebuilt

    async def _repair_later(self, event_id: int) -> None:
        """A sale or an order in flight when the shard failed over may reach the database
        after the rebuild read it (a settlement sells in Redis first, then commits): look
        again once such work has surely ended (Redis and database timeouts)."""
        assert self.repair is not None
        for delay in self.repair_after_s:
            await asyncio.sleep(delay)
            try:
                await self.repair(event_id)
            except Exception as exc:
                log.warning("event_repair_failed", event_id=event_id, error=str(exc))

    async def _events_on_primaries(self, topo: Topology) -> list[int]:
        """Every event with state on a primary: SCAN of each primary (never KEYS)."""
        events: set[int] = set()
        for node_id in sorted({n for _, _, n in topo.ranges}):
            host, port = topo.addresses[node_id]
            node = self.redis.node_client(host, port)  # type: ignore[attr-defined]
            try:
                async for key in node.scan_iter(match=META_MATCH, count=1000):
                    event_id = _event_of(_decode(key))
                    if event_id is not None:
                        events.add(event_id)
            finally:
                await node.aclose()
        return sorted(events)


def _dropped(keys: EventKeys) -> list[str]:
    """What a rebuild replaces (HoldStore.reset_event's set): all but the version and the
    dashboard's counts; the meta last (the script reads it first)."""
    keep = {f"{keys.base}:ver", keys.holds_per_minute, keys.meta}
    return [k for k in keys.all_keys() if k not in keep]


def _event_of(meta_key: str) -> int | None:
    try:
        start = meta_key.index("{e") + 2
        return int(meta_key[start:meta_key.index("}", start)])
    except ValueError:
        return None
