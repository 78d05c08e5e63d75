"""Unit of work: one write transaction; outbox rows go into it, so a state change and the
event announcing it commit together or not at all (no dual write)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from ticketing_app.db.engine import Database
from ticketing_app.db.models import OutboxEvent
from ticketing_app.db.statements import INSERT_OUTBOX, new_row
from ticketing_app.domain.events import Envelope
from ticketing_app.observability.metrics import record_committed_events
from ticketing_app.observability.tracing import current_trace_id, current_traceparent

OUTBOX_CHANNEL = "tk_outbox"


def outbox_row(event_type: str, aggregate_id: int | str, partition_key: int | str,
               payload: dict[str, Any]) -> tuple[dict[str, Any], Envelope]:
    """An event's outbox row (column values) and its envelope, carrying the current trace."""
    env = Envelope(
        type=event_type, aggregateId=str(aggregate_id), traceId=current_trace_id(),
        payload=payload,
    )
    row = new_row(
        OutboxEvent, event_uuid=env.eventId, event_type=event_type,
        aggregate_id=str(aggregate_id), partition_key=str(partition_key),
        payload=env.model_dump(), trace_id=env.traceId, traceparent=current_traceparent())
    return row, env


class UnitOfWork:
    def __init__(self, db: Database):
        self.db = db
        self.session: AsyncSession = db.write_sessions()
        self._outbox_rows: list[dict[str, Any]] = []
        self._emitted: list[tuple[str, dict[str, Any]]] = []
        self.committed = False

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.committed:
            # Objects read here stay usable after an early return (a rollback would expire
            # them, detached, with nothing left to reload them from).
            self.session.expunge_all()
            await self.session.rollback()
        await self.session.close()

    def emit(
        self, event_type: str, aggregate_id: int | str, partition_key: int | str,
        payload: dict[str, Any],
    ) -> Envelope:
        """Record an event for Kafka in this transaction."""
        row, env = outbox_row(event_type, aggregate_id, partition_key, payload)
        self._outbox_rows.append(row)
        self._emitted.append((event_type, payload))
        return env

    def take_outbox(self) -> list[dict[str, Any]]:
        """The outbox rows emitted so far, for a statement of the caller's that writes them
        (they are not inserted again at commit; their metrics still count at commit)."""
        rows, self._outbox_rows = self._outbox_rows, []
        return rows

    async def commit(self) -> None:
        if self._outbox_rows:
            # One Core insert for the transaction's events, in the order they were emitted
            # (ids follow that order; the relay publishes by id).
            # On PostgreSQL the insert wakes the relay at commit time: a statement trigger
            # sends NOTIFY on OUTBOX_CHANNEL (migration 0004). The relay also polls.
            await self.session.execute(INSERT_OUTBOX, self._outbox_rows)
        await self.session.commit()
        self.committed = True
        # Metrics count transitions only once they are durable (see metrics.py).
        record_committed_events(self._emitted)
