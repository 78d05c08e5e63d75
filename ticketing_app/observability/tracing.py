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
    """Install a tracer provider once per process. Spans are always made (so trace ids exist
    for `Trace-Id`, logs and Kafka headers); they leave the process only through exporters
    chosen by the standard variables:

    - OTEL_TRACES_EXPORTER: `otlp`, `console`, `none` (comma-separated); default `otlp` when
      an OTLP endpoint is set, else none.
    - OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, _HEADERS, _TIMEOUT;
      OTEL_EXPORTER_OTLP_PROTOCOL must be `http/protobuf` (the exporter installed).
    - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*:
      read by the SDK itself.
    """
    global _configured
    current = trace.get_tracer_provider()
    if _configured and isinstance(current, TracerProvider):
        return current
    if isinstance(current, TracerProvider):  # someone (a test, a framework) installed one
        _configured = True
        return current
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME",
                                                                service_name)})
    provider = TracerProvider(resource=resource)
    for exporter in _exporters_from_env():
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured = True
    return provider


def _exporters_from_env() -> list[Any]:
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT")
    names = [n.strip().lower() for n in os.environ.get(
        "OTEL_TRACES_EXPORTER", "otlp" if endpoint else "none").split(",") if n.strip()]
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return []
    exporters: list[Any] = []
    for name in names:
        if name == "otlp":
            protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
                "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            if protocol != "http/protobuf":
                raise RuntimeError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not supported; "
                                   "use http/protobuf (Jaeger and collectors listen on 4318)")
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter,
            )

            exporters.append(OTLPSpanExporter())
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        elif name != "none":
            raise RuntimeError(f"OTEL_TRACES_EXPORTER={name} is not supported "
                               "(otlp, console, none)")
    return exporters


def tracer() -> trace.Tracer:
    return trace.get_tracer("ticketing")


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
def span_from_traceparent(name: str, traceparent: str | None,
                          kind: trace.SpanKind = trace.SpanKind.INTERNAL,
                          **attrs: Any) -> Iterator[str]:
    """Continue a trace carried by a job argument or a Kafka header; yields the trace id."""
    ctx = extract_context({"traceparent": traceparent}) if traceparent else None
    with tracer().start_as_current_span(name, context=ctx, kind=kind, attributes=attrs):
        yield current_trace_id()
