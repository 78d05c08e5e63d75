"""Prometheus series every process exports (names are what the Grafana dashboard uses)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

HOLD_ATTEMPTS = Counter("tk_hold_attempts_total", "Seat hold attempts by outcome", ["outcome"])
HOLD_LATENCY = Histogram("tk_hold_latency_seconds", "Hold script latency", ["op"],
                         buckets=LATENCY_BUCKETS)
HTTP_LATENCY = Histogram("tk_http_request_duration_seconds", "REST API latency",
                         ["method", "route", "status"], buckets=LATENCY_BUCKETS)
ORDERS = Counter("tk_orders_total", "Order state transitions", ["status"])
PAYMENTS = Counter("tk_payments_total", "Payment outcomes", ["status"])
SAGA_COMPENSATIONS = Counter("tk_saga_compensations_total", "Saga compensations", ["reason"])
OUTBOX_BACKLOG = Gauge("tk_outbox_backlog", "Outbox rows not yet published")
OUTBOX_LAG = Gauge("tk_outbox_lag_seconds", "Age of the oldest unpublished outbox row")
OUTBOX_PUBLISHED = Counter("tk_outbox_published_total", "Outbox rows published to Kafka")
CONSUMER_PROCESSED = Counter("tk_consumer_processed_total", "Kafka messages processed",
                             ["consumer", "result"])
CONSUMER_LAG = Gauge("tk_consumer_lag_messages", "Messages behind the log end", ["consumer"])
LIVE_SESSIONS = Gauge("tk_live_sessions", "Websocket sessions watching a seat map")
LIVE_BROADCASTS = Counter("tk_live_broadcasts_total", "Seat-map deltas broadcast to rooms")
JOB_QUEUE_DEPTH = Gauge("tk_job_queue_depth", "Jobs waiting in ARQ queues", ["queue"])
HOLDS_EXPIRED = Counter("tk_holds_expired_total", "Holds released by the expiry sweeper")
RATE_LIMITED = Counter("tk_rate_limited_total", "Requests refused by rate limits", ["scope"])
