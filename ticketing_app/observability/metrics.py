"""Prometheus series every process exports (names are what the Grafana dashboard uses).

A process that runs several server workers (granian under `ticketing web`, `ticketing api
--workers N`) sets PROMETHEUS_MULTIPROC_DIR before start: prometheus_client then keeps each
worker's values in files there and `/metrics` merges them (`exposition()`), so a scrape sees
the whole process group, not one random worker. Gauges say how to merge (`multiprocess_mode`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Values are written there from the first metric on: the directory must exist first.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# The API's SLO (p95 < 300 ms) is a bucket boundary, so the latency alert compares exactly.
HTTP_BUCKETS = tuple(sorted((*LATENCY_BUCKETS, 0.3)))
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

HOLD_ATTEMPTS = Counter("tk_hold_attempts_total", "Seat hold attempts by outcome", ["outcome"])
_hold_outcomes: dict[str, Counter] = {}


def hold_attempt(outcome: str) -> None:
    """Counts a hold attempt. The labelled child is looked up once per outcome: `labels()` on
    every request cost about as much as the rest of a refusal's bookkeeping."""
    child = _hold_outcomes.get(outcome)
    if child is None:
        child = _hold_outcomes[outcome] = HOLD_ATTEMPTS.labels(outcome=outcome)
    child.inc()


HOLD_REFUSED_FROM_COPY = Counter(
    "tk_hold_refused_from_copy_total",
    "Holds refused from the process's copy of the seat map (no Redis round trip)")
HOLD_LATENCY = Histogram("tk_hold_latency_seconds", "Hold script latency", ["op"],
                         buckets=LATENCY_BUCKETS)
HTTP_LATENCY = Histogram("tk_http_request_duration_seconds", "REST API latency",
                         ["method", "route", "status"], buckets=HTTP_BUCKETS)
ORDERS = Counter("tk_orders_total", "Order state transitions", ["status"])
PAYMENTS = Counter("tk_payments_total", "Payment state transitions", ["status"])
SAGA_COMPENSATIONS = Counter("tk_saga_compensations_total", "Saga compensations", ["reason"])
JOBS = Counter("tk_jobs_total", "Background jobs run, by job and result", ["job", "result"])
JOB_LATENCY = Histogram("tk_job_duration_seconds", "Background job run time", ["job"],
                        buckets=LATENCY_BUCKETS)
OUTBOX_BACKLOG = Gauge("tk_outbox_backlog", "Outbox rows not yet published",
                       multiprocess_mode="mostrecent")
OUTBOX_LAG = Gauge("tk_outbox_lag_seconds", "Age of the oldest unpublished outbox row",
                   multiprocess_mode="mostrecent")
OUTBOX_PUBLISHED = Counter("tk_outbox_published_total", "Outbox rows published to Kafka")
CONSUMER_PROCESSED = Counter("tk_consumer_processed_total", "Kafka messages processed",
                             ["consumer", "result"])
CONSUMER_LAG = Gauge("tk_consumer_lag_messages",
                     "Messages behind the log end, per partition this process is assigned",
                     ["consumer", "partition"], multiprocess_mode="livesum")
CONSUMER_PARTITIONS = Gauge("tk_consumer_partitions_assigned",
                            "Topic partitions assigned to this consumer process (its group "
                            "shares them out)", ["consumer"], multiprocess_mode="livesum")
LIVE_SESSIONS = Gauge("tk_live_sessions", "Websocket sessions watching a seat map",
                      multiprocess_mode="livesum")
LIVE_BROADCASTS = Counter("tk_live_broadcasts_total", "Seat-map deltas broadcast to rooms")
SSE_CLIENTS = Gauge("tk_sse_clients", "Clients of the seat-change stream (SSE)",
                    multiprocess_mode="livesum")
SSE_DROPPED = Counter("tk_sse_dropped_total",
                      "Stream clients dropped because they stopped reading (queue full)")
SSE_RESUMES = Counter("tk_sse_resumes_total",
                      "Stream reconnects with Last-Event-ID, by how they resumed", ["outcome"])
JOB_QUEUE_DEPTH = Gauge("tk_job_queue_depth", "Jobs waiting in ARQ queues", ["queue"],
                        multiprocess_mode="mostrecent")
HOLDS_EXPIRED = Counter("tk_holds_expired_total", "Holds released by the expiry sweeper")
RATE_LIMITED = Counter("tk_rate_limited_total", "Requests refused by rate limits", ["scope"])
WAITING_ROOM_CHALLENGES = Counter(
    "tk_waiting_room_challenges_total",
    "Waiting-room bot checks: issued, redeemed (bought a place), missing, or refused by reason",
    ["outcome"])
# The scheduled audit (`backend_jobs/scheduled_audit.py`): whichever worker ran the latest
# audit stores its result in Redis, and every worker exports that one result, so a scrape of
# any worker (and `max` over all) shows the latest run, never an older one of another worker.
AUDIT_DISCREPANCIES = Gauge("tk_audit_discrepancies",
                            "Discrepancies the latest scheduled audit found, by kind",
                            ["kind"], multiprocess_mode="mostrecent")
AUDIT_LAST_RUN = Gauge("tk_audit_last_run_timestamp_seconds",
                       "When the latest scheduled audit finished (Unix time)",
                       multiprocess_mode="mostrecent")
AUDIT_DURATION = Gauge("tk_audit_duration_seconds", "How long the latest scheduled audit took",
                       multiprocess_mode="mostrecent")
AUDIT_RUNS = Counter("tk_audit_runs_total", "Scheduled audits run by this process, by result "
                     "(clean, discrepancies, error)", ["result"])
# Work past its deadline that the expiry job should already have settled (worker, every
# METRICS_INTERVAL_S): non-zero for long means the expiry/recovery jobs are not keeping up.
PAYMENTS_PAST_DEADLINE = Gauge(
    "tk_payments_past_deadline",
    "PENDING payments whose order's payment window has ended", multiprocess_mode="mostrecent")
PAYMENTS_PAST_DEADLINE_AGE = Gauge(
    "tk_payments_past_deadline_max_seconds",
    "How far past its order's payment window the most overdue PENDING payment is",
    multiprocess_mode="mostrecent")
ORDERS_PAST_DEADLINE = Gauge(
    "tk_orders_past_deadline",
    "Orders still CREATED after their payment window ended, with no payment running (the "
    "expiry job cancels them every second)", multiprocess_mode="mostrecent")
DEPENDENCY_UP = Gauge("tk_dependency_up", "1 when a dependency answered the last health check",
                      ["dependency"], multiprocess_mode="mostrecent")

# Committed outbox events -> the state transitions they announce. Counting at commit time
# counts each transition exactly once, whichever process (API, worker, admin) made it.
_ORDER_STATUS_BY_EVENT = {
    "ORDER_CREATED": "CREATED",
    "ORDER_CONFIRMED": "CONFIRMED",
    "ORDER_CANCELLED": "CANCELLED",
    "ORDER_REFUNDED": "REFUNDED",
}


def record_committed_events(events: Iterable[tuple[str, dict[str, object]]]) -> None:
    """Count order/payment transitions and saga compensations from one committed
    transaction's outbox events (type, payload)."""
    batch = list(events)
    types = {t for t, _ in batch}
    for event_type, payload in batch:
        status = _ORDER_STATUS_BY_EVENT.get(event_type)
        if status is not None:
            ORDERS.labels(status=status).inc()
        if event_type == "ORDER_CANCELLED" and "PAYMENT_FAILED" not in types and \
                "PAYMENT_REFUNDED" not in types and \
                str(payload.get("reason", "")).startswith("payment window"):
            SAGA_COMPENSATIONS.labels(reason="payment_window_expired").inc()
        elif event_type == "PAYMENT_FAILED":
            failed = str(payload.get("paymentStatus") or "FAILED")
            PAYMENTS.labels(status=failed).inc()
            SAGA_COMPENSATIONS.labels(reason=failed.lower()).inc()
        elif event_type == "PAYMENT_REFUNDED":
            PAYMENTS.labels(status="REFUNDED").inc()
            SAGA_COMPENSATIONS.labels(reason="late_payment_refund").inc()
        elif event_type == "PAYMENT_SUCCESS" and "PAYMENT_REFUNDED" not in types:
            PAYMENTS.labels(status="AUTHORIZED").inc()


def exposition() -> tuple[bytes, str]:
    """The text format for `/metrics`: this process's registry, or every worker's values
    merged when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def prepare_multiproc_dir() -> None:
    """Empty the multiprocess directory before a server starts its workers: files left by a
    previous run would be summed into this one's counters."""
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        return
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def mark_worker_exit(pid: int | None = None) -> None:
    """A server worker that stops takes its live gauges (sessions) out of the merged view."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


def _families() -> list[tuple[set[str], set[str]]]:
    """(sample names, label names) for each of the platform's series."""
    out = []
    for value in list(globals().values()):
        if not isinstance(value, (Counter, Gauge, Histogram)):
            continue
        family = next(iter(value.describe()))
        base, labels = family.name, set(value._labelnames)
        if family.type == "counter":
            out.append(({f"{base}_total", f"{base}_created"}, labels))
        elif family.type == "histogram":
            out.append(({f"{base}_sum", f"{base}_count", f"{base}_created"}, labels))
            out.append(({f"{base}_bucket"}, labels | {"le"}))
        else:
            out.append(({base}, labels))
    return out


def exported_metric_names() -> set[str]:
    """Every sample name the platform's own series can produce (dashboards are checked
    against this): counters' `_total`, histograms' `_bucket`/`_sum`/`_count`."""
    return {name for names, _ in _families() for name in names}


def metric_labels() -> dict[str, set[str]]:
    """Sample name -> its label names."""
    return {name: labels for names, labels in _families() for name in names}
