"""`ticketing audit` on a schedule: an ARQ cron job of the jobs worker (every AUDIT_INTERVAL_S;
0 disables it) reconciles Redis, the database and the projection, and its result becomes
metrics that Prometheus alerts on (deploy/prometheus/alerts.yml).

The cron job is unique per tick, so with several workers exactly one runs each audit. That
worker stores the result under `AUDIT_RESULT_KEY` in the queue's Redis, and every worker's
gauge loop exports the stored result: whichever worker Prometheus scrapes shows the latest
run, never a stale one a worker kept from an older tick it happened to run.
"""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from arq import cron
from arq.cron import CronJob
from redis.asyncio import Redis

from ticketing_app.bootstrap import Runtime
from ticketing_app.observability import metrics
from ticketing_app.services.audit import KINDS, AuditReport
from ticketing_app.settings import Settings

log = structlog.get_logger(__name__)

AUDIT_RESULT_KEY = "tk:audit:latest"  # JSON: {"finishedAt", "durationS", "counts": {kind: n}}
RESULT_TTL_S = 7 * 24 * 3600  # long after any alert on its age has fired


def result_of(report: AuditReport, finished_at: float, duration_s: float) -> dict[str, Any]:
    counts = {kind: len(report.of_kind(kind)) for kind in KINDS}
    return {"finishedAt": finished_at, "durationS": round(duration_s, 3), "counts": counts}


async def scheduled_audit(ctx: dict[str, Any]) -> dict[str, int]:
    """One audit of every event, with the CLI's grace periods; what it found is logged (each
    discrepancy) and stored for the gauges. Returns the counts by kind (ARQ keeps them as the
    job's result)."""
    rt: Runtime = ctx["rt"]
    started = time.monotonic()
    try:
        report = await rt.auditor.audit()
    except Exception:
        metrics.AUDIT_RUNS.labels(result="error").inc()
        raise
    result = result_of(report, time.time(), time.monotonic() - started)
    redis: Redis = ctx["redis"]  # the queue's Redis, which every worker reads
    await redis.set(AUDIT_RESULT_KEY, json.dumps(result), ex=RESULT_TTL_S)
    export(result)
    metrics.AUDIT_RUNS.labels(result="clean" if report.ok else "discrepancies").inc()
    if report.ok:
        log.info("audit_clean", duration_s=result["durationS"], **report.checked)
    else:
        for d in report.discrepancies[:100]:
            log.error("audit_discrepancy", kind=d.kind, event_id=d.event_id,
                      subject=d.subject, detail=d.detail)
        log.error("audit_found_discrepancies", total=len(report.discrepancies),
                  **{k: n for k, n in result["counts"].items() if n})
    return {k: n for k, n in result["counts"].items() if n}


def export(result: dict[str, Any]) -> None:
    """Set the audit gauges from a stored result (every kind, zeros included, so an alert
    on a kind resolves when the next run no longer finds it)."""
    counts = result.get("counts") or {}
    for kind in KINDS:
        metrics.AUDIT_DISCREPANCIES.labels(kind=kind).set(int(counts.get(kind, 0)))
    metrics.AUDIT_LAST_RUN.set(float(result["finishedAt"]))
    metrics.AUDIT_DURATION.set(float(result.get("durationS", 0.0)))


async def export_latest(redis: Redis) -> bool:
    """Export the latest stored result, if any run stored one. False when none."""
    raw = await redis.get(AUDIT_RESULT_KEY)
    if raw is None:
        return False
    export(json.loads(raw))
    return True


def cron_fields(interval_s: int) -> dict[str, set[int]]:
    """AUDIT_INTERVAL_S as ARQ cron fields (the settings accept only intervals that divide a
    minute, an hour or a day, so every tick is the same distance apart)."""
    if interval_s < 60:
        return {"second": set(range(0, 60, interval_s))}
    if interval_s < 3600:
        return {"second": {0}, "minute": set(range(0, 60, interval_s // 60))}
    return {"second": {0}, "minute": {0}, "hour": set(range(0, 24, interval_s // 3600))}


def audit_cron(settings: Settings) -> list[CronJob]:
    """The cron entry for the jobs worker, none when AUDIT_INTERVAL_S is 0. Its timeout is the
    interval (at most ten minutes): a run never overlaps the next one for long."""
    interval = settings.audit_interval_s
    if not interval:
        return []
    return [cron(scheduled_audit, name="scheduled_audit", unique=True, run_at_startup=False,
                 timeout=min(max(interval, 30), 600), max_tries=1,
                 **cron_fields(interval))]  # type: ignore[arg-type]
