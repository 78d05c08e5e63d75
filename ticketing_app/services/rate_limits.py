"""Fixed one-minute windows in Redis for the abuse limits that are not counted inside a hold
script (those are: see `holds/lua/_lib.lua` `open_claim`). The attempt is counted before the
work it guards, in one atomic step, so concurrent requests cannot slip past the limit."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from ticketing_app.domain import errors
from ticketing_app.holds.keys import RATE_PREFIX
from ticketing_app.observability import metrics

WINDOW_S = 60


async def count_attempt(redis: Redis, scope: str, ident: str, limit: int,
                        message: str, window_s: int = WINDOW_S) -> None:
    """One attempt more for (scope, ident) this window (a minute unless `window_s` says
    otherwise); `429 RATE_LIMITED` with Retry-After once over `limit` (0 = no limit)."""
    if limit <= 0 or not ident:
        return
    now = time.time()
    key = f"{RATE_PREFIX}{scope}:{ident}:{int(now // window_s)}"
    pipe = redis.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, window_s + 1)
    count, _ = await pipe.execute()
    if int(count) > limit:
        metrics.RATE_LIMITED.labels(scope).inc()
        raise errors.RateLimited(retry_after=max(1, window_s - int(now) % window_s),
                                 message=message, scope=scope)
