"""The transactional outbox relay: publishes outbox rows to Kafka in order, at least once.

A row is marked SENT only after the broker acknowledged it (acks=all). On PostgreSQL, one relay
works at a time (an advisory lock; the others stand by) and claims rows with FOR UPDATE SKIP
LOCKED; it wakes on NOTIFY, with polling as the fallback. On SQLite it polls, and holds no
lock while it waits for the broker (the database has one write lock for everyone).

The embedded broker keeps everything in memory: after it restarts, topics are gone. The relay
re-creates them and re-sends every row the sales projection has not processed yet, so the
projection heals by itself (consumers de-duplicate by the envelope's eventId).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from opentelemetry.trace import SpanKind
from sqlalchemy import exists, func, or_, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ticketing_app.bootstrap import Runtime
from ticketing_app.db.models import OutboxEvent, ProcessedEvent
from ticketing_app.faults import fault_point
from ticketing_app.holds.keys import BROKER_GENERATION
from ticketing_app.observability import metrics
from ticketing_app.observability.tracing import current_traceparent, span_from_traceparent
from ticketing_app.services.uow import OUTBOX_CHANNEL
from ticketing_app.settings import plain_postgres_url

log = structlog.get_logger(__name__)

RELAY_ADVISORY_LOCK = 7_211_001
# The relay's lock taken in the claim's own statement (one round trip for both): the claim
# reads no rows when another relay holds it (the lock's CTE is evaluated once, first).
_RELAY_LOCK = select(func.pg_try_advisory_xact_lock(RELAY_ADVISORY_LOCK).label("got")) \
    .cte("relay_lock")
_RELAY_LOCKED = exists(select(_RELAY_LOCK.c.got).where(_RELAY_LOCK.c.got))
PROJECTION_CONSUMER = "sales-projection"
# How often the relay looks for the marker topic while the producer seems healthy: a broker
# that restarted empty on the same address is reconnected to by the producer silently, so
# only this check notices that rows acknowledged by the old broker were lost with it. It
# bounds the outbox drain after a broker restart (docs/reliability.md: 10 s).
BROKER_CHECK_INTERVAL_S = 2.0
LOSS_RECHECK_S = 4.0  # after a detected loss: look again this long after, for rows unprocessed
LOSS_RECHECK_GRACE_S = 1.0  # ... sent at least this long ago (younger ones are still on their way)
LOSS_RECHECKS = 5  # looking again while a look still finds some


def message_headers(row: OutboxEvent, traceparent: str | None = None) -> list[tuple[str, bytes]]:
    """`traceparent` (W3C) is the relay's publish span, a child of the span that wrote the
    row, so the consumer continues the same trace."""
    headers = [("eventId", row.event_uuid.encode()), ("eventType", row.event_type.encode())]
    tp = traceparent or row.traceparent
    if tp:
        headers.append(("traceparent", tp.encode()))
    return headers


class OutboxRelay:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.settings = rt.settings
        self.producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self.published = 0
        self._recheck_at = 0.0
        self._rechecks_left = 0

    # ---- Kafka --------------------------------------------------------------------------
    async def _connect(self) -> None:
        created = await self.rt.kafka.ensure_topics()
        producer = self.rt.kafka.producer()
        await producer.start()
        self.producer = producer
        if created:
            await self._requeue_lost()

    async def _requeue_lost(self) -> None:
        """The broker forgot its topics: send again every row a consumer has not processed
        (consumers drop what they already had). Once more a few seconds later: until a
        consumer has rejoined the new broker's group it may fetch from its old position and
        skip what was written below it."""
        n = await self.requeue_unprocessed(timedelta(0))
        self._recheck_at = time.monotonic() + LOSS_RECHECK_S
        self._rechecks_left = LOSS_RECHECKS
        with contextlib.suppress(Exception):  # consumers re-read their partitions when it moves
            await self.rt.redis.incr(BROKER_GENERATION)
        log.warning("topic_recreated_requeued", rows=n)

    async def _check_broker(self) -> None:
        if await self.rt.kafka.ensure_topics():
            await self._requeue_lost()
            # The producer's metadata (the topic's partitions) came from the old broker; the
            # topic may come back with another partition count. Start a fresh producer.
            await self._disconnect()

    async def _disconnect(self) -> None:
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await self.producer.stop()
        self.producer = None

    async def _send(self, rows: Sequence[OutboxEvent]) -> list[int]:
        """Send in order; returns the ids the broker acknowledged (a prefix of rows)."""
        assert self.producer is not None
        futures = []
        for row in rows:
            with span_from_traceparent(f"publish {row.event_type}", row.traceparent or None,
                                       kind=SpanKind.PRODUCER, outbox_id=int(row.id or 0),
                                       topic=self.settings.kafka_topic):
                futures.append(await self.producer.send(
                    self.settings.kafka_topic, key=row.partition_key.encode(),
                    value=json.dumps(row.payload, separators=(",", ":")).encode(),
                    headers=message_headers(row, current_traceparent())))
        acked: list[int] = []
        for row, fut in zip(rows, futures, strict=True):
            try:
                await fut
            except Exception as exc:
                log.warning("publish_failed", outbox_id=row.id, error=str(exc))
                break
            acked.append(int(row.id or 0))
        return acked

    # ---- claiming -----------------------------------------------------------------------
    async def publish_batch(self) -> int:
        """Claim, send, mark. Returns how many rows were published."""
        if self.rt.db.is_postgres:
            return await self._publish_claimed()
        return await self._publish_unlocked()

    def _pending(self) -> Any:
        return (select(OutboxEvent).where(col(OutboxEvent.status) == "PENDING")
                .order_by(col(OutboxEvent.id)).limit(self.settings.outbox_batch_size))

    async def _publish_claimed(self) -> int:
        """PostgreSQL: one relay at a time (an advisory lock), the batch's rows locked from the
        claim to the mark, so a standby relay skips them."""
        async with self.rt.db.write_sessions() as s:
            claim = self._pending().where(_RELAY_LOCKED).with_for_update(
                skip_locked=True, of=OutboxEvent)
            rows = list((await s.execute(claim)).scalars())
            if not rows:
                await s.rollback()
                return 0
            try:
                acked = await self._send(rows)
            except Exception:
                await s.rollback()
                raise
            await fault_point(self.settings, "relay.after_ack")
            failed = await self._mark(s, rows, acked)
            await s.commit()
        return self._published(acked, failed)

    async def _publish_unlocked(self) -> int:
        """SQLite: the batch is read without a lock and marked in a short write transaction
        after the broker's ack. SQLite has one write lock for the whole database; holding it
        (BEGIN IMMEDIATE) over the broker's round trip stalled every order, payment and
        consumer for as long as the broker took, and failed them with "database is locked"
        once the busy timeout ran out (a relay paused or a broker away). One relay runs per
        SQLite database; a row sent twice is dropped by the consumers."""
        async with self.rt.db.read_sessions() as s:
            rows = list((await s.execute(self._pending())).scalars())
        if not rows:
            return 0
        acked = await self._send(rows)
        await fault_point(self.settings, "relay.after_ack")
        async with self.rt.db.write_sessions() as s:
            failed = await self._mark(s, rows, acked)
            await s.commit()
        return self._published(acked, failed)

    async def _mark(self, s: AsyncSession, rows: Sequence[OutboxEvent],
                    acked: list[int]) -> list[int]:
        """Rows the broker acknowledged become SENT; the first one it did not gets an attempt
        and an error. Returns the ids not acknowledged."""
        if acked:
            await s.execute(update(OutboxEvent).where(col(OutboxEvent.id).in_(acked),
                                                      col(OutboxEvent.status) == "PENDING")
                            .values(status="SENT", sent_at=datetime.now(UTC),
                                    attempts=OutboxEvent.attempts + 1))
        failed = [int(r.id or 0) for r in rows if int(r.id or 0) not in set(acked)]
        if failed:
            await s.execute(update(OutboxEvent).where(col(OutboxEvent.id).in_(failed[:1]))
                            .values(attempts=OutboxEvent.attempts + 1,
                                    last_error="broker did not acknowledge"))
        return failed

    def _published(self, acked: list[int], failed: list[int]) -> int:
        self.published += len(acked)
        metrics.OUTBOX_PUBLISHED.inc(len(acked))
        if failed:
            raise ConnectionError("broker did not acknowledge every message")
        return len(acked)

    async def requeue_unprocessed(self, older_than: timedelta) -> int:
        """Rows marked SENT that a consumer (the projection, the notifications) never
        processed go out again; the ones that had them drop the copy."""
        from backend_jobs.consumers import default_consumers

        cutoff = datetime.now(UTC) - older_than
        missed = or_(*(col(OutboxEvent.event_uuid).not_in(
            select(col(ProcessedEvent.event_uuid)).where(col(ProcessedEvent.consumer) == c.name))
            for c in default_consumers()))
        async with self.rt.db.write_sessions() as s:
            res = await s.execute(
                update(OutboxEvent)
                .where(col(OutboxEvent.status) == "SENT", col(OutboxEvent.sent_at) < cutoff,
                       missed)
                .values(status="PENDING"))
            await s.commit()
        return int(res.rowcount or 0)  # type: ignore[attr-defined]

    async def update_backlog_metrics(self) -> tuple[int, float]:
        async with self.rt.db.read_sessions() as s:
            n, oldest = (await s.execute(select(func.count(), func.min(OutboxEvent.created_at))
                                         .where(col(OutboxEvent.status) == "PENDING"))).one()
        lag = 0.0
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            lag = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        metrics.OUTBOX_BACKLOG.set(n)
        metrics.OUTBOX_LAG.set(lag)
        return int(n), lag

    # ---- loops --------------------------------------------------------------------------
    async def _listen_notify(self) -> None:
        """PostgreSQL only: NOTIFY at commit wakes the relay at once. A connection quiet for
        TCP_KEEPALIVE_IDLE_S must answer a `SELECT 1` within DB_COMMAND_TIMEOUT_S, or it is
        replaced: one whose server went silent (a black-holed network) would otherwise wait
        for ever, and the relay would fall back to polling for good."""
        import psycopg

        s = self.settings
        url = plain_postgres_url(self.rt.db.url)
        while not self._stop.is_set():
            try:
                conn = await psycopg.AsyncConnection.connect(
                    url, autocommit=True, connect_timeout=max(1, round(s.db_connect_timeout_s)),
                    keepalives=1, keepalives_idle=s.tcp_keepalive_idle_s,
                    keepalives_interval=s.tcp_keepalive_interval_s,
                    keepalives_count=s.tcp_keepalive_count)
                async with conn:
                    await asyncio.wait_for(conn.execute(f"LISTEN {OUTBOX_CHANNEL}"),
                                           s.db_command_timeout_s)
                    while not self._stop.is_set():
                        async for _ in conn.notifies(timeout=s.tcp_keepalive_idle_s):
                            self._wake.set()
                        await asyncio.wait_for(conn.execute("SELECT 1"), s.db_command_timeout_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox_listen_failed", error=str(exc) or type(exc).__name__)
                await asyncio.sleep(1)

    async def run(self) -> None:
        listener = None
        if self.rt.db.is_postgres:
            listener = asyncio.create_task(self._listen_notify(), name="outbox-listen")
        poll = self.settings.outbox_poll_interval_ms / 1000
        linger = self.settings.outbox_linger_ms / 1000
        backoff = 0.1
        last_requeue = last_check = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    if self.producer is None:
                        await self._connect()
                        backoff = 0.1
                        last_check = time.monotonic()
                    elif time.monotonic() - last_check > BROKER_CHECK_INTERVAL_S:
                        last_check = time.monotonic()
                        await self._check_broker()
                        if self.producer is None:
                            continue
                    # Cleared before the claim: a NOTIFY arriving while it runs wakes the
                    # next wait at once instead of being lost until the poll.
                    self._wake.clear()
                    n = await self.publish_batch()
                    if self._recheck_at and time.monotonic() > self._recheck_at:
                        # Relative to now, not to the loss: rows re-sent right after it must
                        # be covered too (a consumer that rejoined late skipped them).
                        requeued = await self.requeue_unprocessed(
                            timedelta(seconds=LOSS_RECHECK_GRACE_S))
                        self._rechecks_left -= 1
                        self._recheck_at = (time.monotonic() + LOSS_RECHECK_S
                                            if requeued and self._rechecks_left > 0 else 0.0)
                        log.warning("requeued_after_loss", rows=requeued)
                    if time.monotonic() - last_requeue > 30:
                        last_requeue = time.monotonic()
                        requeued = await self.requeue_unprocessed(timedelta(seconds=60))
                        if requeued:
                            log.warning("requeued_undelivered", rows=requeued)
                    if n >= self.settings.outbox_batch_size:
                        continue  # a full batch: more are likely waiting
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), poll)
                    if linger and self._wake.is_set():
                        # Under load commits arrive every few ms: gathering them for a moment
                        # turns many one-row claims (4 round trips each) into one batch.
                        await asyncio.sleep(linger)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("relay_retry", error=str(exc), backoff=backoff)
                    await self._disconnect()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), backoff)
                    backoff = min(backoff * 2, 1.0)
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await listener
            await self._disconnect()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()


async def report_backlog(relay: OutboxRelay, stop: asyncio.Event) -> None:
    """Keeps `tk_outbox_backlog` / `tk_outbox_lag_seconds` current (every relay reports, the
    standby ones too: the dashboard takes the max)."""
    while not stop.is_set():
        try:
            await relay.update_backlog_metrics()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("backlog_metrics_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), relay.settings.metrics_interval_s)
