"""The hold store: typed calls to the Lua scripts, with their answers mapped to domain errors
(the answers' types and every refusal's error: `holds/answers.py`).

When a script answers NOT_LOADED (first use of an event, or Redis restarted empty), the store
asks its loader to rebuild the event from the database, then runs the script again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio import Redis

from ticketing_app.domain import errors
from ticketing_app.holds.answers import (
    NO_LIMITS,
    BestResult,
    ClaimLimits,
    HoldResult,
    LoadData,
    SeatState,
    Snapshot,
    decode,
    extend_refusal,
    lock_refusal,
    parse_state,
    raise_claim_refusal,
    release_refusal,
    seat_details,
)
from ticketing_app.holds.keys import ACTIVE_EVENTS, EventKeys
from ticketing_app.holds.scripts import Scripts
from ticketing_app.holds.shards import STAMP_FIELD, ShardWatch
from ticketing_app.observability import metrics

Loader = Callable[[int], Awaitable[None]]
# The hold time the scripts read as "the web app's" (the event's web hold and total cap).
WEB = "web"


def _secs(hold_seconds: int | None, web: bool) -> str | int:
    if web:
        return WEB
    return "" if hold_seconds is None else int(hold_seconds)


class HoldStore:
    def __init__(self, redis: Redis, loader: Loader | None = None):
        self.redis = redis
        self.scripts = Scripts(redis)
        self.loader = loader
        # On a Redis Cluster: events of a shard that failed over are rebuilt (holds/shards.py).
        self.repairer: Loader | None = None  # CatalogService.repair_event_state
        self.shards = ShardWatch(redis, self._rebuild, self._repair)

    async def _rebuild(self, event_id: int) -> None:
        if self.loader is not None:
            await self.loader(event_id)

    async def _repair(self, event_id: int) -> None:
        if self.repairer is not None:
            await self.repairer(event_id)

    async def _run(self, name: str, event_id: int, args: Sequence[Any],
                   extra_keys: Sequence[str] = ()) -> list[Any]:
        keys = [*EventKeys(event_id).script_keys(), *extra_keys]
        start = time.perf_counter()
        res = await self.scripts[name](keys=keys, args=[event_id, *args])
        metrics.HOLD_LATENCY.labels(op=name).observe(time.perf_counter() - start)
        res = [decode(x) if isinstance(x, bytes) else x for x in res]
        if res and res[0] == "NOT_LOADED":
            if self.loader is None:
                raise errors.ServiceUnavailable("Seat state is being rebuilt; retry shortly.")
            await self.loader(event_id)
            res = await self.scripts[name](keys=keys, args=[event_id, *args])
            res = [decode(x) if isinstance(x, bytes) else x for x in res]
            if res and res[0] == "NOT_LOADED":
                raise errors.ServiceUnavailable("Seat state is being rebuilt; retry shortly.")
        return res

    # ---- buyer operations -------------------------------------------------------------
    async def hold(
        self, event_id: int, buyer: str, tag: str, seat_ids: Sequence[int],
        hold_seconds: int | None, admission_epoch: str = "", limits: ClaimLimits = NO_LIMITS,
        web: bool = False,
    ) -> HoldResult:
        """`admission_epoch`: the epoch of the buyer's verified waiting-room token ('' = none);
        the script refuses new claims without one while the event's room is on. `web`: the
        web app's hold time and total cap instead of `hold_seconds` clamped to the API's."""
        secs = _secs(hold_seconds, web)
        res = await self._run("hold", event_id,
                              [buyer, tag, secs, admission_epoch, *limits.args(), *seat_ids],
                              limits.keys(event_id, buyer))
        code = res[0]
        if code == "OK":
            return HoldResult(int(res[1]), int(res[2]), int(res[3]), int(res[4]))
        raise_claim_refusal(res)
        raise RuntimeError(f"unexpected hold answer {res!r}")

    async def best_available(
        self, event_id: int, buyer: str, tag: str, tier_key: str, quantity: int,
        hold_seconds: int | None, admission_epoch: str = "", limits: ClaimLimits = NO_LIMITS,
        web: bool = False,
    ) -> BestResult | tuple[int, int]:
        """Holds the best block of `quantity` adjacent seats (see best_available.lua), or
        returns (largest free block, free seats in the tier) when no block is left."""
        secs = _secs(hold_seconds, web)
        res = await self._run("best_available", event_id,
                              [buyer, tag, secs, admission_epoch, *limits.args(), tier_key,
                               int(quantity)], limits.keys(event_id, buyer))
        code = res[0]
        if code == "OK":
            return BestResult([int(decode(x)) for x in res[3:]], int(res[1]), int(res[2]))
        if code == "NONE":
            return int(res[1]), int(res[2])
        if code == "NO_TIER":
            raise errors.ValidationFailed("This event has no such tier.",
                                          [{"field": "tier", "message": "unknown tier"}])
        raise_claim_refusal(res)
        raise RuntimeError(f"unexpected best_available answer {res!r}")

    async def release(
        self, event_id: int, buyer: str, seat_ids: Sequence[int], force: bool = False
    ) -> int:
        res = await self._run("release", event_id, [buyer, "1" if force else "0", *seat_ids])
        if res[0] == "OK":
            return int(res[2])
        raise release_refusal(res)

    async def extend(
        self, event_id: int, buyer: str, seat_ids: Sequence[int], seconds: int | None,
        web: bool = False,
    ) -> int:
        """`web`: adds the event's web hold time to what is left, up to the web cap."""
        secs = _secs(seconds, web)
        res = await self._run("extend", event_id, [buyer, secs, *seat_ids])
        if res[0] == "OK":
            return int(res[1])
        raise extend_refusal(res)

    # ---- order and saga operations ----------------------------------------------------
    async def lock_for_order(
        self, event_id: int, buyer: str, token: str, deadline_ms: int, seat_ids: Sequence[int]
    ) -> None:
        res = await self._run("lock_order", event_id, [buyer, token, deadline_ms, *seat_ids])
        if res[0] != "OK":
            raise lock_refusal(res)

    async def unlock_order(
        self, event_id: int, token: str, seat_ids: Sequence[int], rehold_until_ms: int = 0,
        buyer_cancel: bool = False,
    ) -> int:
        """Gives up an order's seats (the saga: never refused). `buyer_cancel`: the buyer's
        own cancel, which the orphan rule judges like a release (OrphanSeat, nothing
        changed)."""
        mode = "cancel" if buyer_cancel else "rehold" if rehold_until_ms else "release"
        res = await self._run("unlock_order", event_id, [token, mode, rehold_until_ms, *seat_ids])
        if res[0] == "ORPHAN":
            raise errors.OrphanSeat(
                "Cancelling this order would leave a single empty seat between taken seats; "
                "it stays yours until its payment window ends, or cancel once a neighbour "
                "is free.",
                [{"seatId": int(res[1]), "status": "ORPHAN"}],
            )
        return int(res[2])

    async def confirm(
        self, event_id: int, token: str, buyer: str, seat_ids: Sequence[int],
        allow_free: bool = False,
    ) -> list[dict[str, Any]]:
        """Returns [] when sold, else the seats that are no longer ours."""
        res = await self._run(
            "confirm", event_id, [token, buyer, "1" if allow_free else "0", *seat_ids]
        )
        if res[0] == "OK":
            return []
        if res[0] == "LIMIT":
            return [{"seatId": int(s), "status": "LIMIT"} for s in seat_ids]
        return seat_details(res[1])

    async def unsell(
        self, event_id: int, token: str, seat_ids: Sequence[int], block: bool = False
    ) -> int:
        res = await self._run("unsell", event_id, [token, "1" if block else "0", *seat_ids])
        return int(res[2])

    async def block(self, event_id: int, seat_ids: Sequence[int], blocked: bool) -> int:
        res = await self._run("block", event_id, ["block" if blocked else "unblock", *seat_ids])
        if res[0] == "REFUSED":
            raise errors.ValidationFailed(
                "Sold seats and seats in an open order cannot be blocked.", seat_details(res[1])
            )
        return int(res[2])

    async def claim_for_office(
        self, event_id: int, holder: str, token: str, until_ms: int, tag: str,
        seat_ids: Sequence[int], as_hold: bool = False,
    ) -> int:
        """The box office's claim of free seats for a named customer (claim_office.lua): an
        order lock under `token` until `until_ms`, or (`as_hold`) a hold of `holder`'s.
        Refused like a buyer's hold when a seat is sold, blocked or claimed."""
        res = await self._run("claim_office", event_id,
                              [holder, token, int(until_ms), tag,
                               "hold" if as_hold else "lock", *seat_ids])
        if res[0] == "OK":
            return int(res[1])
        raise_claim_refusal(res)
        raise RuntimeError(f"unexpected claim_office answer {res!r}")

    async def handover(self, event_id: int, from_holder: str, to_holder: str, tag: str,
                       seat_ids: Sequence[int]) -> bool:
        """`from_holder`'s live holds become `to_holder`'s; False when one is gone."""
        res = await self._run("handover", event_id, [from_holder, to_holder, tag, *seat_ids])
        return bool(res[0] == "OK")

    async def release_all(self, event_id: int) -> int:
        """Every live or lapsed hold of the event ends (the organiser's button)."""
        res = await self._run("release_all", event_id, [])
        return int(res[2])

    async def holds_per_minute(self, event_id: int, minutes: int = 60) -> list[tuple[int, int]]:
        """[(minute epoch ms, seats newly held)] for the last `minutes`, oldest first."""
        import time

        now_min = int(time.time() // 60)
        fields = [str(m) for m in range(now_min - minutes + 1, now_min + 1)]
        raw = await self.redis.hmget(EventKeys(event_id).holds_per_minute, fields)  # type: ignore[misc]
        return [(int(f) * 60_000, int(v or 0)) for f, v in zip(fields, raw, strict=True)]

    # ---- maintenance ------------------------------------------------------------------
    async def sweep(self, event_id: int, batch: int = 500) -> tuple[int, list[str]]:
        res = await self.scripts["sweep"](
            keys=EventKeys(event_id).script_keys(), args=[event_id, batch]
        )
        return int(res[0]), [decode(t) for t in res[2:]]

    async def snapshot(self, event_id: int) -> Snapshot | None:
        res = await self.scripts["snapshot"](
            keys=EventKeys(event_id).script_keys(), args=[event_id]
        )
        if not int(res[0]):
            return None
        snap = Snapshot(version=int(res[1]), now_ms=int(res[2]))
        flat = res[3:]
        for i in range(0, len(flat), 2):
            snap.states[int(decode(flat[i]))] = parse_state(decode(flat[i + 1]))
        return snap

    async def repair(self, event_id: int, data: LoadData) -> int:
        """Puts the database's sales and open orders' locks back over the event's state (after
        a failover's rebuild, see load_event.lua 'repair'); the number of seats changed."""
        payload = {"sold": [list(s) for s in data.sold], "locks": [list(s) for s in data.locks]}
        res = await self.scripts["load_event"](
            keys=EventKeys(event_id).script_keys(),
            args=[event_id, "repair", json.dumps(payload)])
        return int(res[2]) if decode(res[0]) == "OK" else 0

    async def load(self, event_id: int, data: LoadData, layout_only: bool = False) -> bool:
        kinds = data.kinds
        meta = dict(data.meta)
        if not layout_only:
            # The primary this state is built on: a failover away from it means a rebuild.
            stamp = await self.shards.stamp(event_id)
            if stamp:
                meta[STAMP_FIELD] = stamp
        payload = {
            "meta": meta,
            "seats": [list(s) for s in data.seats],
            "sold": [list(s) for s in data.sold],
            "blocked": data.blocked,
            "locks": [list(s) for s in data.locks],
            "rows": {tier: [[rk, centre2, json.dumps([[str(sid) for sid, _ in seats],
                                                      [c for _, c in seats],
                                                      [kinds.get(sid, "") for sid, _ in seats]])]
                            for rk, centre2, seats in rows]
                     for tier, rows in data.rows.items()},
        }
        res = await self.scripts["load_event"](
            keys=EventKeys(event_id).script_keys(),
            args=[event_id, "layout" if layout_only else "init", json.dumps(payload)],
        )
        await self.redis.sadd(ACTIVE_EVENTS, str(event_id))  # type: ignore[misc]
        return decode(res[0]) == "OK"

    async def set_meta(self, event_id: int, **fields: Any) -> None:
        """Sales switch and limits; applied at once to every later hold."""
        mapping = {k: (("1" if v else "0") if isinstance(v, bool) else str(v))
                   for k, v in fields.items()}
        await self.redis.hset(EventKeys(event_id).meta, mapping=mapping)  # type: ignore[misc]

    async def claim_loading(self, event_id: int) -> bool:
        """One loader of an event at a time (a lease of 15 s, so a loader that died frees it)."""
        return bool(await self.redis.set(EventKeys(event_id).load_lock, "1", nx=True, ex=15))

    async def end_loading(self, event_id: int) -> None:
        await self.redis.delete(EventKeys(event_id).load_lock)

    async def is_loaded(self, event_id: int) -> bool:
        return await self.redis.hget(EventKeys(event_id).meta, "loaded") in (b"1", "1")  # type: ignore[misc]

    async def my_seats(self, event_id: int, buyer: str) -> list[int]:
        raw = await self.redis.hget(f"{EventKeys(event_id).base}:mine", buyer)  # type: ignore[misc]
        if not raw:
            return []
        return [int(s) for s in decode(raw).split(",") if s]

    async def seat_states(self, event_id: int, seat_ids: Sequence[int]
                          ) -> tuple[int, dict[int, SeatState]]:
        """(Redis's clock in ms, the states of these seats only): O(seats asked), unlike a
        whole snapshot, for the per-click "which of these are still mine" question."""
        keys = EventKeys(event_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.hmget(f"{keys.base}:st", [str(s) for s in seat_ids])
            (sec, usec), raw = await pipe.execute()
        states = {int(sid): parse_state(decode(v))
                  for sid, v in zip(seat_ids, raw, strict=True) if v is not None}
        return int(sec) * 1000 + int(usec) // 1000, states

    async def owned_count(self, event_id: int, buyer: str) -> int:
        raw = await self.redis.hget(f"{EventKeys(event_id).base}:own", buyer)  # type: ignore[misc]
        return int(raw or 0)

    async def forget_event(self, event_id: int) -> None:
        await self.redis.delete(*EventKeys(event_id).all_keys())
        await self.redis.srem(ACTIVE_EVENTS, str(event_id))  # type: ignore[misc]

    async def reset_event(self, event_id: int) -> None:
        """Drop an event's state so the next use rebuilds it from the database, keeping its
        version: the rebuild's version is then newer than anything a viewer has seen."""
        keys = EventKeys(event_id)
        keep = {f"{keys.base}:ver", keys.holds_per_minute}
        await self.redis.delete(*(k for k in keys.all_keys() if k not in keep))

    async def active_events(self) -> list[int]:
        return sorted(int(decode(x)) for x in await self.redis.smembers(ACTIVE_EVENTS))  # type: ignore[misc]
