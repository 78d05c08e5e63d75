"""Trace ids come from OpenTelemetry, so the `Trace-Id` header, the error body's `traceId`, the
ARQ job and the Kafka message's `traceparent` all name one trace. Exporters are configured by
the standard OTEL_* environment variables; with none set, spans are made but not exported.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
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


_tracer: tuple[object, trace.Tracer] | None = None


def tracer() -> trace.Tracer:
    """One tracer per provider: `get_tracer` builds a new one on every call, which cost a
    measurable share of a request's CPU on the hot path."""
    global _tracer
    provider = trace.get_tracer_provider()
    if _tracer is None or _tracer[0] is not provider:
        _tracer = (provider, trace.get_tracer("ticketing"))
    return _tracer[1]


_provider: tuple[object, object] | None = None  # (provider, its active span processor)


def recording() -> bool:
    """Spans leave the process (an exporter or a test's processor is installed). Without one a
    request needs only ids, not a span: `request_context` then costs a few microseconds. The
    provider is set once per process; asking OpenTelemetry for it reads the environment while
    none is set, so it is asked again only until one is."""
    global _provider
    if _provider is None:
        provider = trace.get_tracer_provider()
        processor = getattr(provider, "_active_span_processor", None)
        if processor is None:
            return False
        _provider = (provider, processor)
    return bool(getattr(_provider[1], "_span_processors", ()))


_rng = random.Random()
# Server workers are forked from a process that imported this module: without a fresh seed in
# each child, every worker would hand out the same sequence of trace ids.
os.register_at_fork(after_in_child=_rng.seed)


def _parse_traceparent(value: str) -> tuple[int, int] | None:
    """(trace id, flags) of a valid W3C traceparent, else None."""
    parts = value.strip().split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16 or len(parts[3]) != 2 \
            or parts[0] == "ff":
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    return (trace_id, flags) if trace_id and span_id else None


# The trace of the request this task serves: (trace id, traceparent to hand on; "" when a
# recorded span is current and the propagator writes it). Set by `request_context`, read by
# `current_trace_id` / `current_traceparent` without asking OpenTelemetry on every call.
_REQUEST: ContextVar[tuple[str, str] | None] = ContextVar("tk_request_trace", default=None)


class request_context:
    """The trace of one request: continues `traceparent` or starts a trace; enters as (trace
    id, span). With spans recorded it is a real server span; otherwise only ids, so
    `Trace-Id`, error bodies, jobs and Kafka headers still name one trace while a request pays
    nothing for a span nobody exports."""

    __slots__ = ("_cm", "_token", "name", "traceparent")

    def __init__(self, name: str, traceparent: str | None):
        self.name, self.traceparent = name, traceparent
        self._cm: Any = None

    def __enter__(self) -> tuple[str, Any]:
        if recording():
            ctx = extract_context({"traceparent": self.traceparent}) if self.traceparent \
                else None
            self._cm = tracer().start_as_current_span(self.name, context=ctx,
                                                      kind=trace.SpanKind.SERVER)
            span = self._cm.__enter__()
            trace_id = format(span.get_span_context().trace_id, "032x")
            self._token = _REQUEST.set((trace_id, ""))
            return trace_id, span
        parsed = _parse_traceparent(self.traceparent) if self.traceparent else None
        tid, flags = parsed if parsed else (_rng.getrandbits(128) or 1, 1)
        trace_id = format(tid, "032x")
        span_id = format(_rng.getrandbits(64) or 1, "016x")
        self._token = _REQUEST.set((trace_id, f"00-{trace_id}-{span_id}-{flags & 0xFF:02x}"))
        return trace_id, trace.INVALID_SPAN

    def __exit__(self, *exc: Any) -> Any:
        _REQUEST.reset(self._token)
        if self._cm is not None:
            return self._cm.__exit__(*exc)
        return None


def current_trace_id() -> str:
    """The active trace's id as 32 hex digits, or '' outside any span."""
    request = _REQUEST.get()
    if request is not None:
        return request[0]
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def current_traceparent() -> str:
    request = _REQUEST.get()
    if request is not None and request[1]:
        return request[1]
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
