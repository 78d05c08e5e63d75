"""The Redis client every process uses (holds, the waiting room, pub/sub, rate limits): one
connection pool per process, built here and nowhere else."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis


def redis_client(url: str, max_connections: int) -> Redis:
    """A blocking pool: waits for a free connection instead of failing under a burst."""
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=10)
    return Redis(connection_pool=pool)


def require_url(value: str, name: str) -> str:
    if not value:
        raise RuntimeError(
            f"{name} is not set. `ticketing up` starts embedded services and sets it; "
            f"standalone processes need it in the environment."
        )
    return value
