"""The Redis client every process uses (holds, the waiting room, pub/sub, rate limits): one
connection pool per process, built here and nowhere else, with bounds on a silent Redis."""

from __future__ import annotations

import socket
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

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


def redis_client(url: str, max_connections: int, settings: Settings | None = None) -> Redis:
    """A blocking pool: waits for a free connection instead of failing under a burst (up to
    REDIS_POOL_TIMEOUT_S). No retries: a command that failed is the request's 503, within
    REDIS_SOCKET_TIMEOUT_S of a silent Redis."""
    settings = settings or get_settings()
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections,
                                           timeout=settings.redis_pool_timeout_s,
                                           **redis_connection_options(settings))
    return Redis(connection_pool=pool)


def require_url(value: str, name: str) -> str:
    if not value:
        raise RuntimeError(
            f"{name} is not set. `ticketing up` starts embedded services and sets it; "
            f"standalone processes need it in the environment."
        )
    return value
