"""A consumer records a batch's event ids and learns which were new in one statement
(backend_jobs/consumers.claim_fresh); racing consumers must still apply each id once. And a
pooled PostgreSQL connection that died while idle is replaced at checkout, though it is no
longer pinged before every use (DB_PING_AFTER_IDLE_S)."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from sqlalchemy import select, text
from sqlmodel import col

from backend_jobs.consumers import claim_fresh
from tests.conftest import Env
from ticketing_app.db.engine import create_database
from ticketing_app.db.models import ProcessedEvent

pytestmark = pytest.mark.integration


async def test_racing_batches_claim_each_event_id_exactly_once(env: Env) -> None:
    db = env.rt.db
    consumer = f"race-{uuid.uuid4().hex[:8]}"
    rng = random.Random(14)
    for _ in range(20):
        ids = [str(uuid.uuid4()) for _ in range(12)]

        async def one_batch(ids: list[str] = ids) -> set[str]:
            batch = rng.sample(ids, 8)  # overlapping batches, as after a rebalance
            async with db.write_sessions() as s:
                fresh = await claim_fresh(s, consumer, batch, db.is_postgres)
                await asyncio.sleep(rng.random() / 100)  # hold the rows a moment
                await s.commit()
            return fresh

        results = await asyncio.gather(*(one_batch() for _ in range(6)))
        claimed = [i for fresh in results for i in fresh]
        assert len(claimed) == len(set(claimed)), "an id was claimed by two batches"
        async with db.read_sessions() as s:
            stored = set((await s.execute(select(col(ProcessedEvent.event_uuid)).where(
                col(ProcessedEvent.consumer) == consumer,
                col(ProcessedEvent.event_uuid).in_(ids)))).scalars())
        assert stored == set(claimed)  # every id recorded is one a batch applied


async def test_a_duplicate_within_one_batch_is_claimed_once(env: Env) -> None:
    db = env.rt.db
    consumer = f"dup-{uuid.uuid4().hex[:8]}"
    one = str(uuid.uuid4())
    async with db.write_sessions() as s:
        first = await claim_fresh(s, consumer, [one], db.is_postgres)
        await s.commit()
    async with db.write_sessions() as s:
        again = await claim_fresh(s, consumer, [one], db.is_postgres)
        await s.commit()
    assert first == {one} and again == set()


async def test_a_connection_killed_while_idle_is_replaced_at_checkout(env: Env) -> None:
    if not env.rt.db.is_postgres:
        pytest.skip("PostgreSQL's pool only")
    settings = env.rt.settings.model_copy(update={"db_ping_after_idle_s": 0.2})
    db = create_database(env.rt.db.url, pool_size=1, settings=settings)
    try:
        async with db.read_sessions() as s:
            pid = (await s.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with env.rt.db.read_sessions() as s:
            await s.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        await asyncio.sleep(0.5)  # idle past the threshold: pinged, found dead, replaced
        async with db.read_sessions() as s:
            now = (await s.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert now != pid
    finally:
        await db.dispose()
