"""Trace ids come from OpenTelemetry, so the `Trace-Id` header, the error body's `traceId`, the
ARQ job and the Kafka message's `traceparent` all name one trace. Exporters are configured by
the standard OTEL_* environment variables; with none set, spans are made but not exported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_configured = False


def configure_tracing(service_name: str) -> TracerProvider:
    """Install a tracer provider once per process; add an OTLP exporter only when asked."""
    global _configured
    current = trace.get_tracer_provider()
    if _configured and isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME",
                                                                  service_name)})
    )
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True
    return provider


_tracer: tuple[object, trace.Tracer] | None = None


def tracer() -> trace.Tracer:
    """One tracer per provider: `get_tracer` builds a new one on every call, which cost a
    measurable share of a request's CPU on the hot path."""
    global _tracer
    provider = trace.get_tracer_provider()
    if _tracer is None or _tracer[0] is not provider:
        _tracer = (provider, trace.get_tracer("ticketing"))
    return _tracer[1]


def current_trace_id() -> str:
    """The active trace's id as 32 hex digits, or '' outside any span."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def current_traceparent() -> str:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent", "")


def extract_context(carrier: Mapping[str, Any]) -> otel_context.Context:
    return _propagator.extract(carrier={k.lower(): v for k, v in carrier.items()})


@contextmanager
def span_from_traceparent(name: str, traceparent: str | None, **attrs: Any) -> Iterator[str]:
    """Continue a trace carried by a job argument or a Kafka header; yields the trace id."""
    ctx = extract_context({"traceparent": traceparent}) if traceparent else None
    with tracer().start_as_current_span(name, context=ctx, attributes=attrs):
        yield current_trace_id()
