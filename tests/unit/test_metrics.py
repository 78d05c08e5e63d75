"""Metric bookkeeping: transitions counted from committed outbox events, and several server
worker processes merged into one `/metrics` (PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from ticketing_app.observability import metrics


def _value(counter: object, **labels: str) -> float:
    return float(counter.labels(**labels)._value.get())  # type: ignore[attr-defined]


def test_committed_events_count_each_transition_once() -> None:
    before = {
        "created": _value(metrics.ORDERS, status="CREATED"),
        "confirmed": _value(metrics.ORDERS, status="CONFIRMED"),
        "cancelled": _value(metrics.ORDERS, status="CANCELLED"),
        "authorized": _value(metrics.PAYMENTS, status="AUTHORIZED"),
        "timed_out": _value(metrics.PAYMENTS, status="TIMED_OUT"),
        "refunded": _value(metrics.PAYMENTS, status="REFUNDED"),
        "comp_timeout": _value(metrics.SAGA_COMPENSATIONS, reason="timed_out"),
        "comp_refund": _value(metrics.SAGA_COMPENSATIONS, reason="late_payment_refund"),
        "comp_window": _value(metrics.SAGA_COMPENSATIONS, reason="payment_window_expired"),
    }
    metrics.record_committed_events([("ORDER_CREATED", {})])
    metrics.record_committed_events([("PAYMENT_SUCCESS", {}), ("ORDER_CONFIRMED", {})])
    metrics.record_committed_events([
        ("PAYMENT_FAILED", {"paymentStatus": "TIMED_OUT"}),
        ("ORDER_CANCELLED", {"reason": "payment timed_out"})])
    # A late payment whose seats are gone: charged, refunded, order cancelled.
    metrics.record_committed_events([
        ("PAYMENT_SUCCESS", {}), ("PAYMENT_REFUNDED", {}),
        ("ORDER_CANCELLED", {"reason": "seats no longer available"})])
    metrics.record_committed_events([("ORDER_CANCELLED", {"reason": "payment window expired"})])
    after = {
        "created": _value(metrics.ORDERS, status="CREATED"),
        "confirmed": _value(metrics.ORDERS, status="CONFIRMED"),
        "cancelled": _value(metrics.ORDERS, status="CANCELLED"),
        "authorized": _value(metrics.PAYMENTS, status="AUTHORIZED"),
        "timed_out": _value(metrics.PAYMENTS, status="TIMED_OUT"),
        "refunded": _value(metrics.PAYMENTS, status="REFUNDED"),
        "comp_timeout": _value(metrics.SAGA_COMPENSATIONS, reason="timed_out"),
        "comp_refund": _value(metrics.SAGA_COMPENSATIONS, reason="late_payment_refund"),
        "comp_window": _value(metrics.SAGA_COMPENSATIONS, reason="payment_window_expired"),
    }
    delta = {k: after[k] - before[k] for k in before}
    assert delta == {"created": 1, "confirmed": 1, "cancelled": 3, "authorized": 1,
                     "timed_out": 1, "refunded": 1, "comp_timeout": 1, "comp_refund": 1,
                     "comp_window": 1}


WORKER = """
import os, sys
from ticketing_app.observability import metrics
metrics.HOLD_ATTEMPTS.labels(outcome="OK").inc(int(sys.argv[1]))
metrics.LIVE_SESSIONS.set(int(sys.argv[2]))
if sys.argv[3] == "exit":
    metrics.mark_worker_exit()
"""
READER = """
from ticketing_app.observability import metrics
print(metrics.exposition()[0].decode())
"""


def _run(code: str, mp_dir: Path, *args: str) -> str:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(mp_dir), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, check=True,
                          capture_output=True, text=True).stdout


def test_worker_processes_are_merged_and_a_stopped_worker_leaves_live_gauges(
    tmp_path: Path,
) -> None:
    mp_dir = tmp_path / "prom"  # created on first use
    _run(WORKER, mp_dir, "3", "5", "stay")
    _run(WORKER, mp_dir, "4", "7", "exit")  # a worker that shut down cleanly
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(_run(READER, mp_dir))
               for s in fam.samples}
    assert samples[("tk_hold_attempts_total", (("outcome", "OK"),))] == 7  # counters add up
    live = [v for (name, _), v in samples.items() if name == "tk_live_sessions"]
    assert live == [5]  # live gauges: only processes still running
