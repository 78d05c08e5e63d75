"""The Redis client every process uses (holds, the waiting room, pub/sub, rate limits): one
connection pool per process, built here and nowhere else, with bounds on a silent Redis.

REDIS_URL may name a Redis Cluster (several seed nodes, or REDIS_CLUSTER=true): the client is
then redis-py's cluster client, which sends each command to the primary of its key's slot.
Every key of one event carries the hash tag `{e<id>}` (holds/keys.py), so one event's scripts
run on one node, atomically. The services take either client as `Redis`: the cluster client
answers the same commands (pub/sub aside: clients/pubsub.py).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, cast
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import (
    ClusterDownError,
    ConnectionError,
    SlotNotCoveredError,
)

from ticketing_app.settings import Settings, get_settings


def tcp_keepalive_options(settings: Settings) -> dict[int, int]:
    """Socket options for TCP keepalive probes (where the platform names them)."""
    names = {"TCP_KEEPIDLE": settings.tcp_keepalive_idle_s,
             "TCP_KEEPINTVL": settings.tcp_keepalive_interval_s,
             "TCP_KEEPCNT": settings.tcp_keepalive_count}
    return {getattr(socket, n): v for n, v in names.items() if hasattr(socket, n)}


def redis_connection_options(settings: Settings) -> dict[str, Any]:
    """Bounds on a silent Redis for every connection: the connect, each command's answer; TCP
    keepalive on idle sockets; a PING before reusing a connection that sat idle."""
    return {
        "socket_connect_timeout": settings.redis_connect_timeout_s,
        "socket_timeout": settings.redis_socket_timeout_s,
        "socket_keepalive": True,
        "socket_keepalive_options": tcp_keepalive_options(settings),
        "health_check_interval": settings.redis_health_check_interval_s,
    }


def redis_client(url: str, max_connections: int, settings: Settings | None = None,
                 cluster: bool | None = None) -> Redis:
    """A blocking pool: waits for a free connection instead of failing under a burst (up to
    REDIS_POOL_TIMEOUT_S). No retries: a command that failed is the request's 503, within
    REDIS_SOCKET_TIMEOUT_S of a silent Redis. A cluster URL (`cluster`, by default the
    settings' REDIS_CLUSTER or several seeds) gives the cluster client (`cluster_client`)."""
    settings = settings or get_settings()
    if cluster is None:
        cluster = "," in url or (settings.redis_cluster and url == settings.redis_url)
    if cluster:
        return cast(Redis, cluster_client(url, max_connections, settings))
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections,
                                           timeout=settings.redis_pool_timeout_s,
                                           **redis_connection_options(settings))
    return Redis(connection_pool=pool)


def is_cluster(redis: Any) -> bool:
    return isinstance(redis, RedisCluster)


def seed_nodes(url: str) -> list[tuple[str, int]]:
    """`redis://h1:7000,redis://h2:7001` or `redis://h1:7000,h2:7001` -> [(h1, 7000), ...]."""
    scheme = url.split("://", 1)[0] if "://" in url else "redis"
    out = []
    for part in (p.strip() for p in url.split(",")):
        if not part:
            continue
        parts = urlsplit(part if "://" in part else f"{scheme}://{part}")
        out.append((parts.hostname or "127.0.0.1", parts.port or 6379))
    return out


class TicketingCluster(RedisCluster):
    """redis-py's cluster client with the plain client's manners: at most `max_connections`
    commands in flight per process, later ones waiting in turn (FIFO) up to
    REDIS_POOL_TIMEOUT_S instead of failing with MaxConnectionsError; a command is retried on
    a refreshed slot map only when it surely did not run (a refused connection, CLUSTERDOWN,
    an uncovered slot during a failover), never after a timeout."""

    ERRORS_ALLOW_RETRY = (ConnectionError, ClusterDownError, SlotNotCoveredError)  # type: ignore[assignment]

    def __init__(self, *args: Any, gate: int, gate_timeout_s: float,
                 node_options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gate = asyncio.Semaphore(gate)
        self._gate_timeout_s = gate_timeout_s
        self.node_options = node_options  # for a node's own client (sharded pub/sub)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            await asyncio.wait_for(self._gate.acquire(), self._gate_timeout_s)
        except TimeoutError:
            raise ConnectionError("No connection available.") from None
        try:
            return await super().execute_command(*args, **kwargs)
        finally:
            self._gate.release()

    def node_client(self, host: str, port: int, **extra: Any) -> Redis:
        """A plain client of one node (a pub/sub connection to the owner of a slot)."""
        return Redis(host=host, port=port, **{**self.node_options, **extra})


def cluster_client(url: str, max_connections: int, settings: Settings) -> TicketingCluster:
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    first = urlsplit(url.split(",", 1)[0])
    auth = {"username": first.username, "password": first.password}
    options = redis_connection_options(settings)
    return TicketingCluster(
        startup_nodes=[ClusterNode(h, p) for h, p in seed_nodes(url)],
        # Pipelines are not gated: headroom above the gate for them.
        max_connections=max_connections + 32,
        retry=Retry(NoBackoff(), settings.redis_cluster_retries),
        gate=max_connections, gate_timeout_s=settings.redis_pool_timeout_s,
        node_options={**options, **auth},
        **auth, **options,
    )


def require_url(value: str, name: str) -> str:
    if not value:
        raise RuntimeError(
            f"{name} is not set. `ticketing up` starts embedded services and sets it; "
            f"standalone processes need it in the environment."
        )
    return value
