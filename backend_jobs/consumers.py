"""Kafka consumers: at-least-once, offsets committed only after processing, duplicates
dropped by the envelope's eventId in the same transaction as the consumer's own writes.

The embedded broker forgets committed offsets when it restarts; consumers then start from the
earliest offset and the de-duplication table makes the re-read harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from opentelemetry.trace import SpanKind
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from ticketing_app.bootstrap import Runtime
from ticketing_app.db.models import ProcessedEvent, now_utc
from ticketing_app.domain.events import Envelope
from ticketing_app.holds.keys import BROKER_GENERATION
from ticketing_app.observability import metrics
from ticketing_app.observability.tracing import span_from_traceparent

log = structlog.get_logger(__name__)

LAG_REPORT_INTERVAL_S = 1.0  # tk_consumer_lag is a gauge: once a second is enough

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
Prefetch = Callable[[AsyncSession, list[Envelope]], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    name: str  # also the Kafka consumer group and the de-duplication scope
    handler: Handler
    # Reads a whole batch needs, made once for it before its handlers run (their results in
    # the session's `info`), instead of one look-up per message.
    prefetch: Prefetch | None = None


async def claim_fresh(s: AsyncSession, consumer: str, event_ids: list[str], postgres: bool
                      ) -> set[str]:
    """Records the batch's event ids as processed by `consumer`, in the caller's transaction,
    and returns those that were not yet: one statement for the look-up and the insert. A
    concurrent consumer inserting the same id makes this one wait for its commit and skip it
    (ON CONFLICT DO NOTHING), so a duplicate is never applied twice."""
    if not event_ids:
        return set()
    table = ProcessedEvent.__table__  # type: ignore[attr-defined]
    stmt = (pg_insert(table) if postgres else sqlite_insert(table)).on_conflict_do_nothing()
    now = now_utc()
    # In one order for everyone: two batches that overlap in another order would each wait
    # for a row the other inserted (a deadlock, found by racing overlapping batches).
    rows = [{"consumer": consumer, "event_uuid": e, "processed_at": now}
            for e in sorted(set(event_ids))]
    res = await s.execute(stmt.returning(table.c.event_uuid), rows)
    return set(res.scalars())


async def process_envelope(rt: Runtime, spec: ConsumerSpec, env: Envelope) -> bool:
    """Apply one message exactly once per consumer. False when it was a duplicate."""
    async with rt.db.write_sessions() as s:
        existing = await s.get(ProcessedEvent, (spec.name, env.eventId))
        if existing is not None:
            await s.rollback()
            return False
        s.add(ProcessedEvent(consumer=spec.name, event_uuid=env.eventId))
        await spec.handler(s, env)
        try:
            await s.commit()
        except IntegrityError:  # a concurrent duplicate won the race
            await s.rollback()
            return False
    return True


async def process_batch(
    rt: Runtime, spec: ConsumerSpec, items: list[tuple[Envelope, str | None]]
) -> list[bool] | None:
    """Apply a batch in ONE transaction (one commit instead of one per message, which is what
    keeps consumers ahead of a busy on-sale). Returns, per message, whether it was applied
    (False: a duplicate), or None when the batch must be retried message by message."""
    ids = list(dict.fromkeys(env.eventId for env, _ in items))
    async with rt.db.write_sessions() as s:
        fresh = await claim_fresh(s, spec.name, ids, rt.db.is_postgres)
        todo = [(env, tp) for env, tp in items if env.eventId in fresh]
        if todo and spec.prefetch is not None:
            await spec.prefetch(s, [env for env, _ in todo])
        applied: list[bool] = []
        for env, traceparent in items:
            if env.eventId not in fresh:
                applied.append(False)
                continue
            fresh.discard(env.eventId)  # a copy later in the same batch is a duplicate
            with span_from_traceparent(f"consume {env.type}", traceparent,
                                       kind=SpanKind.CONSUMER, consumer=spec.name,
                                       event_id=env.eventId):
                await spec.handler(s, env)
            applied.append(True)
        try:
            await s.commit()
        except IntegrityError:  # a concurrent consumer applied one of them first
            await s.rollback()
            return None
    return applied


def decode(value: bytes) -> Envelope | None:
    try:
        return Envelope.model_validate(json.loads(value))
    except Exception:
        return None


class ConsumerRunner:
    def __init__(self, rt: Runtime, spec: ConsumerSpec):
        self.rt = rt
        self.spec = spec
        self._stop = asyncio.Event()
        self.processed = 0
        self.duplicates = 0
        self._broker_generation: bytes | None = None
        self._next_offset: dict[TopicPartition, int] = {}  # per partition: next to process
        self._lag_partitions: set[int] = set()  # partitions whose lag this process exports

    async def _consume(self) -> None:
        # The topic with its configured partitions before subscribing (see ensure_topics): a
        # consumer that starts before the relay would otherwise have some brokers create it
        # with their default count (seen with Tansu: 4 instead of KAFKA_TOPIC_PARTITIONS=3).
        await self.rt.kafka.ensure_topics(marker=False)
        consumer = self.rt.kafka.consumer(self.spec.name)
        await consumer.start()
        checked = 0.0
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=200)
                for tp, messages in batches.items():
                    await self._handle_batch(messages)
                    self._next_offset[tp] = messages[-1].offset + 1
                    try:
                        await consumer.commit({tp: messages[-1].offset + 1})
                    except (CommitFailedError, IllegalStateError):
                        # The group rebalanced (the partition may no longer be ours), or the
                        # broker restarted and forgot it: keep this consumer (it rejoins on
                        # the next fetch). Rebuilding it would stall until the old member's
                        # session times out. What was not committed is read again and
                        # dropped as a duplicate.
                        log.info("commit_skipped_rebalance", consumer=self.spec.name,
                                 partition=tp.partition)
                if time.monotonic() - checked >= LAG_REPORT_INTERVAL_S:
                    checked = time.monotonic()
                    await self._check_positions(consumer)  # broker round trips: not every batch
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _handle_batch(self, messages: list[Any]) -> None:
        items: list[tuple[Envelope, str | None]] = []
        for msg in messages:
            env = decode(msg.value)
            if env is None:
                log.error("poison_message_skipped", consumer=self.spec.name)
                metrics.CONSUMER_PROCESSED.labels(self.spec.name, "poison").inc()
                continue
            tp = dict(msg.headers or []).get("traceparent", b"").decode() or None
            items.append((env, tp))
        if not items:
            return
        try:
            flags = await process_batch(self.rt, self.spec, items)
        except Exception as exc:  # one bad message: find it by going one by one
            log.warning("batch_failed_retrying_singly", consumer=self.spec.name, error=str(exc))
            flags = None
        if flags is None:
            for msg in messages:
                await self._handle(msg.value, dict(msg.headers or []))
            return
        applied = sum(flags)
        self.processed += applied
        self.duplicates += len(flags) - applied
        if applied:
            metrics.CONSUMER_PROCESSED.labels(self.spec.name, "applied").inc(applied)
        if len(flags) - applied:
            metrics.CONSUMER_PROCESSED.labels(self.spec.name, "duplicate").inc(len(flags) - applied)

    async def _handle(self, value: bytes, headers: dict[str, bytes]) -> None:
        env = decode(value)
        if env is None:
            log.error("poison_message_skipped", consumer=self.spec.name)
            metrics.CONSUMER_PROCESSED.labels(self.spec.name, "poison").inc()
            return
        tp = headers.get("traceparent", b"").decode() or None
        with span_from_traceparent(f"consume {env.type}", tp, kind=SpanKind.CONSUMER,
                                   consumer=self.spec.name, event_id=env.eventId):
            fresh = await process_envelope(self.rt, self.spec, env)
        if fresh:
            self.processed += 1
            metrics.CONSUMER_PROCESSED.labels(self.spec.name, "applied").inc()
        else:
            self.duplicates += 1
            metrics.CONSUMER_PROCESSED.labels(self.spec.name, "duplicate").inc()

    async def _check_positions(self, consumer: AIOKafkaConsumer) -> None:
        """Reports the lag, and re-reads every assigned partition from its beginning once the
        relay announces that the broker lost its data (it restarted empty: the new log starts
        again from 0, and a position kept from the old one would wait until the new log grew
        past it). Re-reading is harmless: duplicates are dropped."""
        with contextlib.suppress(Exception):
            generation = await self.rt.redis.get(BROKER_GENERATION)
            if self._broker_generation is not None and generation != self._broker_generation:
                parts = list(consumer.assignment())
                if parts:
                    await consumer.seek_to_beginning(*parts)
                log.warning("broker_data_lost_rereading", consumer=self.spec.name,
                            partitions=len(parts))
                self._next_offset.clear()
            self._broker_generation = generation
        # The lag from what the last fetches said (the partition's high watermark) and what
        # this consumer has processed: no broker round trip, so nothing here can block the
        # fetch loop (asking the broker for end offsets and positions waits up to 40 s while
        # it is away, or while a partition's position is being reset).
        # One series per partition this process holds now; a partition the group moved to
        # another process drops out here (that process reports it).
        assigned = consumer.assignment()
        reported: set[int] = set()
        for tp in assigned:
            high = consumer.highwater(tp)
            if high is not None and tp in self._next_offset:  # else: nothing fetched here yet
                metrics.CONSUMER_LAG.labels(self.spec.name, str(tp.partition)).set(
                    max(0, high - self._next_offset[tp]))
                reported.add(tp.partition)
        for partition in self._lag_partitions - reported:
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(self.spec.name, str(partition))
        self._lag_partitions = reported
        metrics.CONSUMER_PARTITIONS.labels(self.spec.name).set(len(assigned))

    async def run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                await self._consume()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker away or restarted: reconnect
                log.warning("consumer_retry", consumer=self.spec.name, error=str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), backoff)
                backoff = min(backoff * 2, 2.0)

    def stop(self) -> None:
        self._stop.set()


def default_consumers() -> list[ConsumerSpec]:
    from backend_jobs.notifications import handle_notification, prefetch
    from backend_jobs.projection import handle_projection

    return [ConsumerSpec("sales-projection", handle_projection),
            ConsumerSpec("notifications", handle_notification, prefetch)]


async def run_consumers(rt: Runtime, specs: list[ConsumerSpec] | None = None,
                        stop: asyncio.Event | None = None) -> None:
    runners = [ConsumerRunner(rt, spec) for spec in (specs or default_consumers())]
    tasks = [asyncio.create_task(r.run(), name=f"consumer-{r.spec.name}") for r in runners]
    try:
        if stop is not None:
            await stop.wait()
        else:
            await asyncio.gather(*tasks)
    finally:
        for r in runners:
            r.stop()
        # Let each finish the batch in hand (and commit its offsets) before cancelling.
        await asyncio.wait(tasks, timeout=5)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t


def payload_of(env: Envelope) -> dict[str, Any]:
    return env.payload
