"""Redis pub/sub that notices a silent connection.

`PubSub.listen()` reads with no deadline: on a connection whose peer stopped answering without
closing it (a black-holed network, a middlebox that lost the connection's state) it waits for
ever, and the listener (the seat-map copies, the payment waiter) silently stops hearing
anything. TCP keepalive does not always help: a proxy or load balancer in between answers the
probes itself. `listen_alive` reads with a deadline instead, PINGs on the subscription at once
and whenever it has been quiet, and raises `TimeoutError` when not even the answer comes back,
so the listener's own reconnect loop opens a fresh connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio.client import PubSub

LIVENESS_PING = b"tk-liveness"
DEFAULT_QUIET_S = 10.0
DEFAULT_ANSWER_S = 3.0


def _timing(pubsub: PubSub) -> tuple[float, float]:
    """(quiet before a PING, wait for its answer): the connection pool's health-check interval
    and answer timeout (REDIS_HEALTH_CHECK_INTERVAL_S, REDIS_SOCKET_TIMEOUT_S)."""
    kwargs = pubsub.connection_pool.connection_kwargs
    quiet = kwargs.get("health_check_interval") or DEFAULT_QUIET_S
    answer = kwargs.get("socket_timeout") or DEFAULT_ANSWER_S
    return float(quiet), float(answer)


async def listen_alive(pubsub: PubSub) -> AsyncIterator[dict[str, Any]]:
    """Every message of a subscribed `pubsub`, like `listen()`; raises `TimeoutError` when a
    PING (sent at once, then after each quiet interval) gets no answer in time."""
    quiet, answer = _timing(pubsub)
    loop = asyncio.get_running_loop()
    # A connection opened while the network is silent must not pass for a live one for a whole
    # quiet interval: it is asked at once.
    await pubsub.ping(LIVENESS_PING)
    heard = loop.time()
    pinged: float | None = heard
    while True:
        now = loop.time()
        if pinged is None and now - heard >= quiet:
            await pubsub.ping(LIVENESS_PING)
            pinged = now
        deadline = (pinged + answer) if pinged is not None else (heard + quiet)
        if pinged is not None and now >= deadline:
            raise TimeoutError(f"pub/sub connection silent for {now - heard:.1f}s")
        msg = await pubsub.get_message(timeout=max(0.01, deadline - now))
        if msg is None:
            continue
        heard, pinged = loop.time(), None
        if msg.get("type") == "pong":
            continue
        yield msg
