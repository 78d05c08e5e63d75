"""Synthetic events straight in Redis, for the scenarios that measure the hold script alone
(no database, their own Valkey): the same Lua scripts and `HoldStore` as production."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from redis.asyncio import Redis

from ticketing_app import embedded
from ticketing_app.clients.redis_client import redis_client
from ticketing_app.holds.answers import LoadData
from ticketing_app.holds.store import HoldStore

COLS = 100


def synthetic_load_data(seats: int, first_id: int = 1) -> LoadData:
    """An on-sale event of `seats` seats in rows of 100, no per-buyer limit, no orphan rule."""
    return LoadData(
        meta={"onsale": 1, "hmin": 5, "hmax": 120, "hdef": 30, "hmaxtotal": 600,
              "limit": 10**9, "orphan": 0},
        seats=[(first_id + i, f"S:{i // COLS + 1}", i % COLS + 1) for i in range(seats)],
        sold=[], blocked=[], locks=[],
    )


@contextlib.asynccontextmanager
async def own_valkey(max_connections: int = 200) -> AsyncIterator[tuple[Redis, int]]:
    """A private Valkey (free port, nothing on disk) and a client configured like production's
    runtime; yields (client, server pid)."""
    workdir = Path(tempfile.mkdtemp(prefix="tk-bench-valkey-"))
    server = embedded.valkey(workdir=workdir).start()
    redis = redis_client(f"redis://127.0.0.1:{server.port}/0", max_connections)
    try:
        assert server.proc is not None
        yield redis, server.proc.pid
    finally:
        await redis.aclose()
        server.stop()
        embedded.cleanup_dir(workdir)


async def load_synthetic(store: HoldStore, event_id: int, seats: int) -> list[int]:
    data = synthetic_load_data(seats)
    await store.load(event_id, data)
    return [s[0] for s in data.seats]
