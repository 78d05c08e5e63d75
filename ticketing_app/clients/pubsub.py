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
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError

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


async def listen_alive(pubsub: PubSub, timing: tuple[float, float] | None = None
                       ) -> AsyncIterator[dict[str, Any]]:
    """Every message of a subscribed `pubsub`, like `listen()`; raises `TimeoutError` when a
    PING (sent at once, then after each quiet interval) gets no answer in time. `timing`:
    (quiet, answer) when the connection's own health checks are off."""
    quiet, answer = timing or _timing(pubsub)
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


# ---- channels of many events: sharded pub/sub ------------------------------------------

Message = tuple[str, bytes]  # (channel, data)


class ChannelSubscription(Protocol):
    """The live-sync channels a process listens to (`holds/mirror.py`)."""

    async def open(self) -> None: ...

    async def add(self, channel: str) -> None:
        """Subscribed once this returns: a change published after it is heard."""

    def discard(self, channel: str) -> None: ...

    def messages(self) -> AsyncIterator[Message]:
        """Every message of the added channels; raises when the subscription is lost (then
        everything must be subscribed again on a fresh object)."""

    async def aclose(self) -> None: ...


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class PatternSubscription:
    """A server without sharded pub/sub (before Redis 7): one pattern for every channel;
    the scripts then PUBLISH (holds/lua/_lib.lua, `announce`)."""

    def __init__(self, redis: Redis, pattern: str) -> None:
        self.redis = redis
        self.pattern = pattern
        self.pubsub: PubSub | None = None

    async def open(self) -> None:
        self.pubsub = self.redis.pubsub()
        await self.pubsub.psubscribe(self.pattern)

    async def add(self, channel: str) -> None:
        return None

    def discard(self, channel: str) -> None:
        return None

    async def messages(self) -> AsyncIterator[Message]:
        assert self.pubsub is not None
        async for msg in listen_alive(self.pubsub):
            if msg.get("type") == "pmessage":
                yield _text(msg["channel"]), msg["data"]

    async def aclose(self) -> None:
        if self.pubsub is not None:
            with contextlib.suppress(Exception):
                await self.pubsub.aclose()


class ShardedSubscription:
    """SSUBSCRIBE each channel on the node that serves its slot, one connection per node (on
    a plain Redis, the one node): the messages of an event's channel stay on its shard, and a
    process hears only the events it serves. redis-py 7.4 (the newest Reflex 0.10 accepts) has
    no cluster pub/sub for asyncio, so this keeps its own per-node connections, with no silent
    reconnect: a lost connection, a refused subscription (MOVED after a failover) or a slot
    taken away (`sunsubscribe`) ends `messages()`, and the caller subscribes everything again
    on a fresh object with a fresh slot map."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.wanted: set[str] = set()
        self._confirmed: dict[str, asyncio.Event] = {}
        self._pubsubs: dict[tuple[str, int], PubSub] = {}
        self._clients: list[Redis] = []
        self._readers: list[asyncio.Task[None]] = []
        self._queue: asyncio.Queue[Message | BaseException] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._answer_s = 3.0

    async def open(self) -> None:
        from ticketing_app.clients.redis_client import is_cluster

        if is_cluster(self.redis):
            await self.redis.nodes_manager.initialize()  # type: ignore[attr-defined]

    def _addr(self, channel: str) -> tuple[str, int]:
        from ticketing_app.clients.redis_client import is_cluster

        if is_cluster(self.redis):
            node = self.redis.get_node_from_key(channel)  # type: ignore[attr-defined]
            return str(node.host), int(node.port)
        kwargs = self.redis.connection_pool.connection_kwargs
        return str(kwargs.get("host", "")), int(kwargs.get("port", 0))

    def _node_client(self, addr: tuple[str, int]) -> Redis:
        """A client of one node that never reconnects by itself (a reconnect would drop
        the shard subscriptions without a word)."""
        from redis.asyncio import ConnectionPool
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        from ticketing_app.clients.redis_client import is_cluster

        # Nor runs redis-py's own health check: it expects a plain PONG, which a connection
        # subscribed with a raw SSUBSCRIBE does not give (listen_alive PINGs instead).
        own = {"retry": Retry(NoBackoff(), 0), "health_check_interval": 0}
        if is_cluster(self.redis):
            return self.redis.node_client(*addr, **own)  # type: ignore[attr-defined]
        pool = self.redis.connection_pool
        return Redis(connection_pool=ConnectionPool(
            connection_class=pool.connection_class, max_connections=4,
            **{**pool.connection_kwargs, **own}))

    def _timing(self) -> tuple[float, float]:
        """(quiet, answer) from the main client's settings (REDIS_HEALTH_CHECK_INTERVAL_S,
        REDIS_SOCKET_TIMEOUT_S)."""
        from ticketing_app.clients.redis_client import is_cluster

        kwargs = (self.redis.node_options if is_cluster(self.redis)  # type: ignore[attr-defined]
                  else self.redis.connection_pool.connection_kwargs)
        return (float(kwargs.get("health_check_interval") or DEFAULT_QUIET_S),
                float(kwargs.get("socket_timeout") or DEFAULT_ANSWER_S))

    async def add(self, channel: str) -> None:
        done = self._confirmed.get(channel)
        if done is not None and done.is_set():
            return
        async with self._lock:
            self.wanted.add(channel)
            done = self._confirmed.setdefault(channel, asyncio.Event())
            if not done.is_set():
                addr = self._addr(channel)
                pubsub = self._pubsubs.get(addr)
                if pubsub is None:
                    client = self._node_client(addr)
                    self._clients.append(client)
                    pubsub = client.pubsub()
                    self._pubsubs[addr] = pubsub
                    await pubsub.connect()
                    self._answer_s = self._timing()[1]
                    self._readers.append(asyncio.create_task(self._read(pubsub)))
                await pubsub.execute_command("SSUBSCRIBE", channel)
        await asyncio.wait_for(done.wait(), self._answer_s)

    def discard(self, channel: str) -> None:
        self.wanted.discard(channel)
        done = self._confirmed.pop(channel, None)
        if done is None:
            return
        pubsub = self._pubsubs.get(self._addr(channel))  # only its shard's node has it
        if pubsub is not None:
            task = asyncio.ensure_future(pubsub.execute_command("SUNSUBSCRIBE", channel))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _read(self, pubsub: PubSub) -> None:
        try:
            async for msg in listen_alive(pubsub, self._timing()):
                kind = msg.get("type")
                channel = _text(msg.get("channel"))
                if kind == "smessage":
                    self._queue.put_nowait((channel, msg["data"]))
                elif kind == "ssubscribe":
                    if channel in self._confirmed:
                        self._confirmed[channel].set()
                elif kind == "sunsubscribe" and channel in self.wanted:
                    # The slot left this node (a failover, a resharding): start over.
                    raise ConnectionError(f"shard channel {channel} unsubscribed by the server")
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._queue.put_nowait(exc)

    async def messages(self) -> AsyncIterator[Message]:
        while True:
            item = await self._queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    async def aclose(self) -> None:
        for task in self._readers:
            task.cancel()
        for pubsub in self._pubsubs.values():
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        for client in self._clients:
            with contextlib.suppress(Exception):
                await client.aclose()
        self._readers.clear()
        self._pubsubs.clear()
        self._clients.clear()
        for done in self._confirmed.values():
            done.clear()


async def seat_channels(redis: Redis, pattern: str) -> ChannelSubscription:
    """Sharded pub/sub where the server has it (a cluster always: Redis 7 and later), else
    one pattern subscription; matches the scripts' choice in `announce`."""
    from ticketing_app.clients.redis_client import is_cluster

    sub: ChannelSubscription
    if is_cluster(redis):
        sub = ShardedSubscription(redis)
    else:
        info = await redis.info("server")
        major = int(str(info.get("redis_version", "0")).split(".", 1)[0] or 0)
        sub = ShardedSubscription(redis) if major >= 7 else PatternSubscription(redis, pattern)
    await sub.open()
    return sub
