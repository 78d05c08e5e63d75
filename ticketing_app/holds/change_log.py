"""An event's recent seat changes, as the scripts logged them: the Redis stream `publish()` in
`lua/_lib.lua` appends to in the same atomic step as the version bump and the PUBLISH.

Its entry ids are the versions (`<version>-0`) and every version bump writes one entry, so the
log holds each version exactly once until it is trimmed (about 1000 entries per event), lost
with Redis, or crossed by a rebuild (an `r` entry from load_event.lua). What a stream client
that reconnects with Last-Event-ID missed is therefore either exactly the entries after its
version, or not in the log at all, and the reader says which.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

from ticketing_app.holds.keys import EventKeys
from ticketing_app.holds.mirror import Change, parse_changes

# A client further behind than this gets a fresh map, whatever the log still holds.
MAX_REPLAY = 2000

Logged = tuple[int, list[Change]]  # (version, the changes of that version)


class ChangeLog:
    def __init__(self, redis: Redis):
        self.redis = redis

    async def between(self, event_id: int, after: int, upto: int) -> list[Logged] | None:
        """Every version after `after` up to `upto`, in order, or None when the log cannot
        give exactly that (trimmed past `after`, lost with Redis, a rebuild in between)."""
        if upto <= after:
            return []
        if upto - after > MAX_REPLAY or after < 0:
            return None
        raw = await self.redis.xrange(EventKeys(event_id).change_log,
                                      min=f"{after + 1}-0", max=f"{upto}-0")
        return contiguous(raw, after, upto)

    async def version(self, event_id: int) -> int:
        """The event's current version in Redis (0 when it has none)."""
        return int(await self.redis.get(f"{EventKeys(event_id).base}:ver") or 0)


def contiguous(raw: Sequence[tuple[Any, dict[Any, Any]]], after: int, upto: int
               ) -> list[Logged] | None:
    """The entries as (version, changes) if they are exactly versions after+1 .. upto, none of
    them a rebuild; else None."""
    out: list[Logged] = []
    expected = after + 1
    for entry_id, fields in raw:
        eid = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        version = int(eid.partition("-")[0])
        changes = fields.get(b"c", fields.get("c"))
        if version != expected or changes is None:
            return None  # a gap (trimmed or lost) or a rebuild
        out.append((version, parse_changes(orjson.loads(changes))))
        expected += 1
    return out if expected == upto + 1 else None
