"""One call per process entry point: logs, traces and (for server workers) metrics set up the
same way everywhere (CLI commands, the standalone API, the Reflex app module)."""

from __future__ import annotations

import contextlib
import os

import structlog
from opentelemetry import trace

from ticketing_app.observability.logging import configure_logging
from ticketing_app.observability.tracing import configure_tracing

_done: set[str] = set()


def setup_observability(service: str) -> None:
    """Idempotent. `service` names the process in traces (OTEL_SERVICE_NAME overrides)."""
    if service in _done:
        return
    configure_logging()
    provider = configure_tracing(f"ticketing-{service}")
    if service == "web":
        _enable_reflex_trace_points()
    _done.add(service)
    processors = getattr(getattr(provider, "_active_span_processor", None),
                         "_span_processors", ())
    structlog.get_logger("ticketing.setup").info(
        "process_started", service=service, pid=os.getpid(),
        span_processors=[type(p).__name__ for p in processors])


def _enable_reflex_trace_points() -> None:
    """Reflex's own spans (event handlers, state locks), so a click in the web UI starts a
    trace that the order, the payment job and the Kafka message continue."""
    with contextlib.suppress(ImportError):
        from reflex_base import otel

        otel.enable(tracer_provider=trace.get_tracer_provider())


def flush_traces(timeout_ms: int = 5000) -> None:
    """Server workers may exit without running atexit hooks: flush what was ended."""
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        with contextlib.suppress(Exception):
            force_flush(timeout_ms)
