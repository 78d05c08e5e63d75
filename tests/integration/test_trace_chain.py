"""One trace from the HTTP request through the ARQ payment job and the Kafka message to the
consumer, checked with an in-memory span exporter; the logs written along the way are JSON
lines carrying that trace's id. Every part runs in this process against real Valkey, SQLite
and the Kafka-protocol broker, so one exporter sees all spans."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend_jobs.notifications import handle_notification
from backend_jobs.provider import MODE_KEY
from tests.integration.helpers import assert_error
from tests.integration.inprocess import (
    consume_until,
    in_process,
    relay_everything,
    stack_settings,
)
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.db.models import OutboxEvent, Payment
from ticketing_app.domain.events import Envelope
from ticketing_app.observability.logging import configure_logging
from ticketing_app.observability.tracing import configure_tracing, current_trace_id
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    db = tmp_path_factory.mktemp("trace") / "trace.db"
    st = Stack(database_url=f"sqlite+aiosqlite:///{db}").start_services()
    try:
        st.migrate()
        yield st
    finally:
        st.stop()


@pytest_asyncio.fixture(scope="module")
async def rt(services: Stack) -> AsyncIterator[Runtime]:
    runtime = await create_runtime(stack_settings(
        services.env(), payment_latency_min_ms=1, payment_latency_max_ms=5,
        outbox_poll_interval_ms=50))
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    configure_tracing("ticketing-test").add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Every log line of the test, rendered as the production processes render them."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buf = io.StringIO()
    configure_logging(stream=buf, json_lines=True)
    try:
        yield buf
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def _by_trace(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans()
            if s.context is not None and format(s.context.trace_id, "032x") == trace_id]


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


async def test_one_trace_from_request_through_job_and_kafka_to_consumer(
    rt: Runtime, spans: InMemorySpanExporter, json_logs: io.StringIO,
) -> None:
    await rt.redis.set(MODE_KEY, "success")
    from ticketing_app.services.admin import GridSpec, TierSpec

    venue = await rt.admin.create_venue("test", "Trace Hall", [GridSpec("Main", 2, 6)])
    from datetime import UTC, datetime, timedelta

    ev = await rt.admin.create_event("test", title="Trace night",
                                     starts_at=datetime.now(UTC) + timedelta(days=3),
                                     venue_id=int(venue.id or 0),
                                     tiers=[TierSpec("Standard", 50000)], status="ON_SALE")
    event_id = int(ev.id or 0)
    seats = [s.id for s in (await rt.catalog.layout(event_id, fresh=True)).seats][:2]

    async with in_process(rt) as app, app.client("tracer") as c:
        held = await c.post("/api/reservations", json={"eventId": event_id, "seatIds": seats})
        assert held.status_code == 201, held.text
        order = await c.post("/api/orders", json={"eventId": event_id, "seatIds": seats},
                             headers={"Idempotency-Key": uuid.uuid4().hex})
        assert order.status_code == 201, order.text
        order_id = order.json()["orderId"]
        paid = await c.post("/api/payments/authorize", json={"orderId": order_id})
        assert paid.status_code == 200 and paid.json()["status"] == "success", paid.text
        trace_id = paid.headers["Trace-Id"]
        assert len(trace_id) == 32 and paid.json()["traceId"] == trace_id
        # An error's body names its own request's trace, as its header does.
        async with app.client("someone-else") as other:
            err = assert_error(await other.post(
                "/api/reservations", json={"eventId": event_id, "seatIds": seats}),
                422, "VALIDATION_FAILED")
        assert _by_trace(spans, err["traceId"]), "the error's trace id names a real trace"

    # The job stored its trace context with the payment; the outbox rows carry it on.
    async with rt.db.read_sessions() as s:
        payment = (await s.execute(select(Payment).where(Payment.order_id == order_id))
                   ).scalar_one()
        rows = list((await s.execute(select(OutboxEvent).where(
            OutboxEvent.aggregate_id == str(order_id)))).scalars())
    assert payment.trace_id == trace_id
    confirmed_row = next(r for r in rows if r.event_type == "ORDER_CONFIRMED")
    assert confirmed_row.trace_id == trace_id
    assert confirmed_row.traceparent.split("-")[1] == trace_id

    # Through the real relay and broker into a real consumer.
    await relay_everything(rt)
    seen: dict[str, str] = {}

    async def handler(s: AsyncSession, env: Envelope) -> None:
        if env.aggregateId == str(order_id):
            seen[env.type] = current_trace_id()
            await handle_notification(s, env)  # a real handler, which logs

    await consume_until(rt, f"trace-test-{uuid.uuid4().hex[:6]}", handler,
                        lambda: "ORDER_CONFIRMED" in seen)
    assert seen["ORDER_CONFIRMED"] == trace_id
    assert seen["PAYMENT_SUCCESS"] == trace_id
    assert seen["ORDER_CREATED"] == order.headers["Trace-Id"] != trace_id

    # The span tree: request -> job -> publish -> consume, parent by parent.
    chain = _by_trace(spans, trace_id)
    request = _one(chain, "POST /api/payments/authorize")
    job = _one(chain, "payment.process")
    publish = _one(chain, "publish ORDER_CONFIRMED")
    consume = _one(chain, "consume ORDER_CONFIRMED")
    assert request.kind == SpanKind.SERVER and job.kind == SpanKind.CONSUMER
    assert publish.kind == SpanKind.PRODUCER and consume.kind == SpanKind.CONSUMER
    assert request.context is not None and job.context is not None
    assert publish.context is not None
    assert job.parent is not None and job.parent.span_id == request.context.span_id
    assert publish.parent is not None and publish.parent.span_id == job.context.span_id
    assert consume.parent is not None and consume.parent.span_id == publish.context.span_id

    # Logs: JSON lines; those written inside the chain carry its trace id.
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines() if line.strip()]
    by_event = {}
    for line in lines:
        assert {"event", "level", "timestamp"} <= line.keys(), line
        by_event.setdefault(line["event"], []).append(line)
    for event in ("payment_processed", "order_confirmed", "notification"):
        assert by_event.get(event), (event, sorted(by_event))
    for line in by_event["payment_processed"] + by_event["order_confirmed"]:
        assert line["trace_id"] == trace_id, line
    assert trace_id in {line.get("trace_id") for line in by_event["notification"]}
    # Standard-library records (arq here) come out in the same JSON format.
    assert any(line.get("logger", "").startswith("arq") for line in lines)
