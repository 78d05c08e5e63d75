"""Replaying the outbox: the outbox table, not the broker, is the durable record.

- `requeue`: mark rows PENDING again so the relay re-publishes them (consumers de-duplicate);
  by default only rows the sales projection has not processed.
- `rebuild_projection`: recompute the sales projection from scratch by applying every outbox
  row, in order, through the projection's own handler (no broker needed).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlmodel import col

from backend_jobs.projection import CONSUMER_NAME, handle_projection, reset_projection
from ticketing_app.bootstrap import Runtime
from ticketing_app.db.models import OutboxEvent, ProcessedEvent
from ticketing_app.domain.events import Envelope

BATCH = 500


async def requeue(rt: Runtime, everything: bool = False, event_id: int | None = None) -> int:
    async with rt.db.write_sessions() as s:
        q = update(OutboxEvent).where(col(OutboxEvent.status) != "PENDING")
        if not everything:
            done = select(col(ProcessedEvent.event_uuid)).where(
                col(ProcessedEvent.consumer) == CONSUMER_NAME)
            q = q.where(col(OutboxEvent.event_uuid).not_in(done))
        if event_id is not None:
            q = q.where(col(OutboxEvent.partition_key) == str(event_id))
        res = await s.execute(q.values(status="PENDING"))
        await s.commit()
    return int(res.rowcount or 0)  # type: ignore[attr-defined]


async def rebuild_projection(rt: Runtime) -> int:
    """One transaction: readers see the old projection until the new one is complete."""
    applied = 0
    async with rt.db.write_sessions() as s:
        await reset_projection(s)
        last_id = 0
        while True:
            rows = list((await s.execute(
                select(OutboxEvent).where(col(OutboxEvent.id) > last_id)
                .order_by(col(OutboxEvent.id)).limit(BATCH))).scalars())
            if not rows:
                break
            for row in rows:
                env = Envelope.model_validate(row.payload)
                s.add(ProcessedEvent(consumer=CONSUMER_NAME, event_uuid=env.eventId))
                await handle_projection(s, env)
                applied += 1
            await s.flush()
            last_id = int(rows[-1].id or 0)
        await s.commit()
    return applied
