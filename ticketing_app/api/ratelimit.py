"""Abuse limits on holds: per holder and per client address, fixed one-minute windows in
Redis (both counters in one pipelined round trip). Over a limit: 429 with Retry-After."""

from __future__ import annotations

import time

from fastapi import Request

from ticketing_app.domain import errors
from ticketing_app.holds.keys import RATE_PREFIX
from ticketing_app.observability import metrics
from ticketing_app.runtime import Runtime


async def check_hold_rate(rt: Runtime, buyer: str, request: Request | None) -> None:
    s = rt.settings
    checks: list[tuple[str, str, int]] = []
    if s.rate_limit_holds_per_minute > 0:
        checks.append(("holder", buyer, s.rate_limit_holds_per_minute))
    if s.rate_limit_ip_per_minute > 0 and request is not None and request.client is not None:
        checks.append(("ip", request.client.host, s.rate_limit_ip_per_minute))
    if not checks:
        return
    window = int(time.time() // 60)
    pipe = rt.redis.pipeline(transaction=False)
    for scope, ident, _ in checks:
        key = f"{RATE_PREFIX}{scope}:{ident}:{window}"
        pipe.incr(key)
        pipe.expire(key, 61)
    results = await pipe.execute()
    for i, (scope, _, limit) in enumerate(checks):
        if int(results[2 * i]) > limit:
            metrics.RATE_LIMITED.labels(scope).inc()
            raise errors.RateLimited(
                retry_after=max(1, 60 - int(time.time()) % 60),
                message=f"Too many hold requests; the limit is {limit} per minute.")
