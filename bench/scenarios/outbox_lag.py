"""Scenario 6: outbox lag under scenario 2's load. For every outbox row the load produced: the
time from the change's commit (the envelope's `occurredAt`, stamped in the committing
transaction) to the sales projection having processed it (`processed_events.processed_at`),
so the whole path is measured: relay wake-up, Kafka, consumer, projection write. Split into
commit -> sent to Kafka (relay) and sent -> processed (consumer).

It reuses scenario 2's run when both run in one invocation, and runs that load itself
otherwise. Correctness: every row the load produced was delivered (processed).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from bench.context import BenchContext
from bench.reconcile import PROJECTION_CONSUMER, drain
from bench.scenario import Scenario, ScenarioResult, Series
from bench.scenarios import original_load


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _parse(iso: str) -> datetime:
    return _aware(datetime.fromisoformat(iso.replace("Z", "+00:00")))


async def run(ctx: BenchContext, params: Mapping[str, Any]) -> ScenarioResult:
    result = ScenarioResult()
    reused = isinstance(ctx.shared.get(original_load.SHARED_KEY), original_load.LoadRun)
    load = await original_load.run_load(ctx, original_load.SCENARIO.params(ctx.quick))
    st = await ctx.stack()
    ctx.status("waiting for the outbox to be delivered")
    drained, detail = await drain(st.rt, 120)
    since = datetime.fromtimestamp(load.started, UTC)
    async with st.rt.db.read_sessions() as s:
        rows = (await s.execute(text(
            """SELECT o.event_type, o.payload, o.created_at, o.sent_at, p.processed_at
               FROM outbox o LEFT JOIN processed_events p
                 ON p.event_uuid = o.event_uuid AND p.consumer = :c
               WHERE o.partition_key = :e AND o.created_at >= :since"""),
            {"c": PROJECTION_CONSUMER, "e": str(load.event_id), "since": since})).all()
    total, to_sent, sent_to_done, created = [], [], [], []
    undelivered = 0
    for event_type, payload, created_at, sent_at, processed_at in rows:
        occurred = payload.get("occurredAt") if isinstance(payload, dict) else None
        start = _parse(occurred) if occurred else _aware(created_at)
        if processed_at is None or sent_at is None:
            undelivered += 1
            continue
        lag = (_aware(processed_at) - start).total_seconds() * 1000
        total.append(lag)
        to_sent.append((_aware(sent_at) - start).total_seconds() * 1000)
        sent_to_done.append((_aware(processed_at) - _aware(sent_at)).total_seconds() * 1000)
        if event_type == "ORDER_CREATED":
            created.append(lag)
    window = max(1e-9, load.ended - load.started)
    result.series += [
        Series.of("order_created", created, window, label="order commit -> processed"),
        Series.of("all", total, window, label="any outbox row: commit -> processed"),
        Series.of("relay", to_sent, window, label="commit -> acknowledged by Kafka"),
        Series.of("consumer", sent_to_done, window, label="Kafka -> processed by projection"),
    ]
    result.metrics.update({
        "rows": len(rows), "orders": len(created),
        "p95_order_commit_to_processed_ms": round(result.series[0].pct(95), 1)
        if created else None,
        "load": "reused scenario 2's run" if reused else "ran scenario 2's load for this",
    })
    result.check("the load produced outbox rows", len(rows) > 0, f"{len(rows)} rows")
    result.check("every outbox row of the load was delivered and processed", undelivered == 0,
                 f"{undelivered} not processed" + ("" if drained else f" ({detail})"))
    return result


SCENARIO = Scenario(
    number=6, name="outbox_lag", title="Outbox lag: order commit to processed by the projection",
    run=run, quick={}, full={}, needs_postgres=True,
)
