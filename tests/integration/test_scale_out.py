"""Scaling out on PostgreSQL with real processes: two API processes and two payment workers
share the work with no payment processed twice; every process exports its metrics; readiness
follows each process's own dependencies through a Kafka outage; a worker stopped with SIGTERM
finishes the job it is running before it exits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from backend_jobs.provider import MODE_KEY
from tests.conftest import TEST_ENV, create_pg_database, drop_pg_database
from tests.integration.helpers import eventually
from tests.integration.inprocess import stack_settings
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.db.models import Order, OutboxEvent, Payment
from ticketing_app.embedded import ChildProcess, free_port
from ticketing_app.holds.keys import PROVIDER_LEDGER_PREFIX
from ticketing_app.settings import PROJECT_ROOT
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration

Samples = list[tuple[str, dict[str, str], float]]


@pytest.fixture(scope="module")
def scaled() -> Iterator[Stack]:
    url = create_pg_database()
    st = Stack(database_url=url, extra_env={**TEST_ENV, "PAYMENT_SUCCESS_RATE": "0.7",
                                            "METRICS_INTERVAL_S": "0.2"}).start_services()
    try:
        st.migrate()
        _owned(*(_api(st, name) for name in ("api-a", "api-b")),
               _with_ops(st, "relay"), _with_ops(st, "consumers"))
        yield st
    finally:
        _stop_all(st)
        drop_pg_database(url)


@pytest_asyncio.fixture(scope="module")
async def rt(scaled: Stack) -> AsyncIterator[Runtime]:
    runtime = await create_runtime(stack_settings(scaled.env()))
    try:
        yield runtime
    finally:
        await runtime.close()


Start = Callable[[], ChildProcess]


def _owned(*starts: Start, attempts: int = 3) -> list[ChildProcess]:
    """Start processes (all at once) on free ports and make sure what answers on each port is
    that process: between picking a free port and binding it, another test session on this
    machine can take it (then ours dies, and theirs would answer our requests)."""
    procs = [start() for start in starts]
    for i, start in enumerate(starts):
        for attempt in range(attempts):
            if _answers_as_itself(procs[i]):
                break
            procs[i].stop()
            if attempt == attempts - 1:
                raise RuntimeError(f"{procs[i].name} could not keep a port:\n"
                                   f"{procs[i].log_path.read_text()[-2000:]}")
            procs[i] = start()
    return procs


def _answers_as_itself(proc: ChildProcess, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.running:
        try:
            body = httpx.get(_url(proc, "/actuator/health/liveness"), timeout=2).json()
            if proc.proc is not None and body.get("pid") == proc.proc.pid:
                return True
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    return False


def _api(st: Stack, name: str) -> Start:
    def start() -> ChildProcess:
        port = free_port()
        proc = ChildProcess(name, [sys.executable, "-m", "ticketing_app.cli", "api", "--port",
                                   str(port)], port, st.workdir / "logs" / f"{name}.log",
                            env=st.env(), cwd=PROJECT_ROOT)
        st.procs[name] = proc.start(wait=False)
        return proc

    return start


def _with_ops(st: Stack, kind: str, name: str | None = None, **env: str) -> Start:
    def start() -> ChildProcess:
        port = free_port()
        proc = st.start_process(kind, name, OPS_PORT=str(port), **env)
        proc.port = port
        return proc

    return start


def _start_with_ops(st: Stack, kind: str, name: str | None = None, **env: str) -> ChildProcess:
    return _owned(_with_ops(st, kind, name, **env))[0]


def _stop_all(st: Stack) -> None:
    """SIGTERM every process at once (each drains on its own), then tidy up."""
    for proc in st.procs.values():
        if proc.running and proc.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.proc.pid, signal.SIGTERM)
    for proc in st.procs.values():
        if proc.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.proc.wait(30)
    st.stop()


def _url(proc: ChildProcess, path: str) -> str:
    return f"http://127.0.0.1:{proc.port}{path}"


async def _samples(proc: ChildProcess) -> Samples:
    async with httpx.AsyncClient(timeout=10) as c:
        r = await c.get(_url(proc, "/metrics"))
    assert r.status_code == 200, r.text
    return [(s.name, dict(s.labels), s.value)
            for fam in text_string_to_metric_families(r.text) for s in fam.samples]


async def _partition_count(st: Stack, topic: str) -> int:
    """The topic's partitions, as the broker reports them."""
    from aiokafka import AIOKafkaConsumer

    c = AIOKafkaConsumer(bootstrap_servers=st.kafka_bootstrap)
    await c.start()
    try:
        await c.topics()
        return len(c.partitions_for_topic(topic) or ())
    finally:
        await c.stop()


def _sum(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for n, lb, v in samples
               if n == name and all(lb.get(k) == want for k, want in labels.items()))


@dataclass
class Buyer:
    name: str
    api: str  # base url of the API process this buyer talks to


async def _ordered(buyer: Buyer, event_id: int, seat: int) -> int:
    async with httpx.AsyncClient(base_url=buyer.api, headers={"X-Caller-Id": buyer.name},
                                 timeout=30) as c:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": seat})
        assert r.status_code == 201, r.text
        r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": [seat]},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 201, r.text
        return int(r.json()["orderId"])


async def _authorize(buyer: Buyer, order_id: int) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=buyer.api, headers={"X-Caller-Id": buyer.name},
                                 timeout=30) as c:
        r = await c.post("/api/payments/authorize", json={"orderId": order_id})
        assert r.status_code == 200, r.text
        return dict(r.json())


async def _new_event(rt: Runtime, seats: int) -> tuple[int, list[int]]:
    from datetime import UTC, datetime, timedelta

    from ticketing_app.services.admin import GridSpec, TierSpec

    venue = await rt.admin.create_venue("test", f"Hall {uuid.uuid4().hex[:6]}",
                                        [GridSpec("Main", 1, seats)])
    ev = await rt.admin.create_event("test", title=f"Scale {uuid.uuid4().hex[:6]}",
                                     starts_at=datetime.now(UTC) + timedelta(days=7),
                                     venue_id=int(venue.id or 0),
                                     tiers=[TierSpec("Standard", 50000)], status="ON_SALE")
    event_id = int(ev.id or 0)
    return event_id, [s.id for s in (await rt.catalog.layout(event_id, fresh=True)).seats]


def _apis(st: Stack) -> list[str]:
    return [f"http://127.0.0.1:{st.procs[n].port}" for n in ("api-a", "api-b")]


async def test_payments_spread_across_two_workers_with_no_duplicate(
    scaled: Stack, rt: Runtime,
) -> None:
    n = 30
    workers = _owned(*(_with_ops(scaled, "worker", f"worker-{i}") for i in (1, 2)))
    try:
        event_id, seats = await _new_event(rt, n + 1)
        apis = _apis(scaled)
        buyers = [Buyer(f"scale-{i}", apis[i % 2]) for i in range(n)]
        orders = await asyncio.gather(*(_ordered(b, event_id, seats[i])
                                        for i, b in enumerate(buyers)))
        # One more hold attempt on a held seat: a conflict, counted by outcome.
        async with httpx.AsyncClient(base_url=apis[1], headers={"X-Caller-Id": "late"}) as c:
            r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": seats[0]})
            assert r.status_code == 409
        # Payments arrive a few at a time, through both API processes, as buyers pay.
        gate = asyncio.Semaphore(4)

        async def pay(b: Buyer, order_id: int) -> dict[str, object]:
            async with gate:
                return await _authorize(b, order_id)

        outcomes = await asyncio.gather(*(pay(b, o) for b, o in zip(buyers, orders,
                                                                     strict=True)))
        statuses = Counter(str(o["status"]) for o in outcomes)
        assert set(statuses) <= {"success", "fail"} and sum(statuses.values()) == n

        # Each payment was charged once and settled once, whichever worker ran it.
        payment_ids = [int(str(o["paymentId"])) for o in outcomes]
        charges = [await rt.redis.get(f"{PROVIDER_LEDGER_PREFIX}count:{p}") for p in payment_ids]
        assert all(c is not None and int(c) == 1 for c in charges), charges
        async with rt.db.read_sessions() as s:
            settled = (await s.execute(
                select(OutboxEvent.event_type, func.count()).where(
                    OutboxEvent.event_type.in_(["PAYMENT_SUCCESS", "PAYMENT_FAILED"]),  # type: ignore[attr-defined]
                    OutboxEvent.aggregate_id.in_([str(o) for o in orders]))  # type: ignore[attr-defined]
                .group_by(OutboxEvent.event_type))).all()
            confirmed = (await s.execute(select(func.count()).select_from(Order).where(
                Order.id.in_(orders), Order.status == "CONFIRMED"))).scalar_one()  # type: ignore[union-attr]
            pending = (await s.execute(select(func.count()).select_from(Payment).where(
                Payment.status == "PENDING"))).scalar_one()
        assert sum(c for _, c in settled) == n
        assert dict(settled).get("PAYMENT_SUCCESS", 0) == statuses["success"] == confirmed
        assert pending == 0

        # Both workers took a share; together they ran exactly one job per payment.
        per_worker = [await _samples(w) for w in workers]
        runs = [_sum(m, "tk_jobs_total", job="process_payment") for m in per_worker]
        assert all(r > 0 for r in runs), f"one worker did all the work: {runs}"
        assert sum(runs) == n
        for m in per_worker:
            assert _sum(m, "tk_jobs_total", job="process_payment", result="REPEAT") == 0
            assert _sum(m, "tk_job_duration_seconds_count", job="process_payment") > 0
            assert any(name == "tk_job_queue_depth" and lb.get("queue") == "payments"
                       for name, lb, _ in m)
        both = [s for m in per_worker for s in m]
        assert _sum(both, "tk_payments_total", status="AUTHORIZED") == statuses["success"]
        assert _sum(both, "tk_payments_total", status="FAILED") == statuses["fail"]
        assert _sum(both, "tk_orders_total", status="CONFIRMED") == statuses["success"]
        assert _sum(both, "tk_orders_total", status="CANCELLED") == statuses["fail"]
        assert _sum(both, "tk_saga_compensations_total", reason="failed") == statuses["fail"]

        # The API processes: holds by outcome, hold script latency, orders, payments started.
        api_metrics = [s for p in ("api-a", "api-b") for s in await _samples(scaled.procs[p])]
        assert _sum(api_metrics, "tk_hold_attempts_total", outcome="OK") == n
        assert _sum(api_metrics, "tk_hold_attempts_total", outcome="RESERVATION_CONFLICT") == 1
        # The conflicting hold was refused by the script or, without a round trip, from the
        # process's copy of the seat map.
        assert _sum(api_metrics, "tk_hold_latency_seconds_count", op="hold") + _sum(
            api_metrics, "tk_hold_refused_from_copy_total") >= n + 1
        assert _sum(api_metrics, "tk_hold_latency_seconds_bucket", op="hold", le="+Inf") >= n
        assert _sum(api_metrics, "tk_orders_total", status="CREATED") == n
        assert _sum(api_metrics, "tk_payments_total", status="PENDING") == n
        assert _sum(api_metrics, "tk_http_request_duration_seconds_count",
                    route="/api/payments/authorize", status="200") == n
        assert any(name == "tk_live_sessions" for name, _, _ in api_metrics)

        # Relay and consumers: backlog drains, everything is published and consumed.
        relay, consumers = scaled.procs["relay"], scaled.procs["consumers"]

        async def drained() -> bool:
            m = await _samples(relay)
            return _sum(m, "tk_outbox_backlog") == 0 and \
                _sum(m, "tk_outbox_published_total") >= 3 * n

        await eventually(drained, timeout=30)
        relay_metrics = await _samples(relay)
        assert any(name == "tk_outbox_lag_seconds" for name, _, _ in relay_metrics)

        async def consumed() -> bool:
            m = await _samples(consumers)
            return _sum(m, "tk_consumer_processed_total", consumer="sales-projection",
                        result="applied") >= 3 * n

        await eventually(consumed, timeout=30)
        consumer_metrics = await _samples(consumers)
        assert any(name == "tk_consumer_lag_messages" and lb.get("consumer") ==
                   "sales-projection" and lb.get("partition", "").isdigit()
                   for name, lb, _ in consumer_metrics)
        # The topic has the configured partitions (KAFKA_TOPIC_PARTITIONS, 3), whichever process
        # reached the broker first: a consumer subscribing before the relay created it had the
        # broker create it with its own default (4, in Tansu). The only replica holds them all
        # (the gauge follows the group's assignment: waited for, not read once).
        partitions = await _partition_count(scaled, "order.events")
        assert partitions == 3

        async def holds_all() -> bool:
            return _sum(await _samples(consumers), "tk_consumer_partitions_assigned",
                        consumer="sales-projection") == partitions

        await eventually(holds_all, timeout=30)
    finally:
        # SIGTERM: both drain (nothing running) and exit cleanly.
        for w in workers:
            # A deadline for the clean exit, not a speed claim: on a busy two-core machine
            # the interpreter's own exit after the drain was seen to take up to 12 s.
            w.stop(timeout=45)
            assert w.proc is not None and w.proc.returncode == 0, w.log_path.read_text()[-1500:]


@pytest.mark.fault
async def test_readiness_follows_each_process_dependencies_through_a_kafka_outage(
    scaled: Stack, rt: Runtime,
) -> None:
    relay, consumers = scaled.procs["relay"], scaled.procs["consumers"]
    api = _apis(scaled)[0]

    async def ready(url: str) -> tuple[int, dict[str, object]]:
        async with httpx.AsyncClient(timeout=10) as c:
            r = await c.get(url)
        return r.status_code, dict(r.json())

    for proc in (relay, consumers):
        code, body = await ready(_url(proc, "/actuator/health/readiness"))
        assert code == 200 and body["components"]["kafka"]["status"] == "UP", body  # type: ignore[index]
        code, _ = await ready(_url(proc, "/actuator/health/liveness"))
        assert code == 200
    event_id, seats = await _new_event(rt, 4)
    assert scaled.kafka is not None
    scaled.kafka.kill()
    try:
        for proc in (relay, consumers):
            async def down(p: ChildProcess = proc) -> dict[str, object] | None:
                code, body = await ready(_url(p, "/actuator/health/readiness"))
                return body if code == 503 else None

            body = await eventually(down, timeout=20)
            assert body["status"] == "DOWN"
            components = body["components"]
            assert components["kafka"]["status"] == "DOWN"  # type: ignore[index]
            assert components["db"]["status"] == "UP"  # type: ignore[index]
            # Not ready, but alive: the orchestrator must not restart it for this.
            assert (await ready(_url(proc, "/actuator/health/liveness")))[0] == 200

        # Sales go on: the web/API is ready, holds and orders work, the outbox buffers.
        code, body = await ready(f"{api}/actuator/health/readiness")
        assert code == 200 and set(body["components"]) == {"db", "redis"}  # type: ignore[arg-type]
        order_id = await _ordered(Buyer("outage", api), event_id, seats[0])
        code, body = await ready(f"{api}/actuator/health")
        outbox = body["components"]["outbox"]  # type: ignore[index]
        assert code == 200 and outbox["required"] is False and outbox["backlog"] >= 1

        async def buffered() -> bool:
            return _sum(await _samples(relay), "tk_outbox_backlog") >= 1

        await eventually(buffered, timeout=10)
    finally:
        scaled.restart_kafka()

    async def recovered() -> bool:
        codes = [(await ready(_url(p, "/actuator/health/readiness")))[0]
                 for p in (relay, consumers)]
        return codes == [200, 200] and _sum(await _samples(relay), "tk_outbox_backlog") == 0

    await eventually(recovered, timeout=40)
    async with rt.db.read_sessions() as s:
        row = (await s.execute(select(OutboxEvent).where(
            OutboxEvent.aggregate_id == str(order_id),
            OutboxEvent.event_type == "ORDER_CREATED"))).scalar_one()
    assert row.status == "SENT"


async def test_sigterm_lets_the_running_payment_finish(scaled: Stack, rt: Runtime) -> None:
    """A deploy stops a worker mid-payment: it picks no new job, finishes this one, exits 0;
    the buyer gets the outcome and the card is charged once."""
    await rt.redis.set(MODE_KEY, "success")
    slow = _start_with_ops(scaled, "worker", "worker-slow", PAYMENT_LATENCY_MIN_MS="2000",
                           PAYMENT_LATENCY_MAX_MS="2000", LOG_JSON="true",
                           SHUTDOWN_GRACE_S="15")
    try:
        event_id, seats = await _new_event(rt, 2)
        buyer = Buyer("deploy", _apis(scaled)[1])
        order_id = await _ordered(buyer, event_id, seats[0])
        paying = asyncio.create_task(_authorize(buyer, order_id))

        async def running() -> bool:
            return bool(await rt.redis.keys("arq:in-progress:pay:*"))

        await eventually(running, timeout=10, interval=0.02)
        assert slow.proc is not None
        os.killpg(slow.proc.pid, signal.SIGTERM)
        outcome = await paying
        code = await asyncio.to_thread(slow.proc.wait, 20)
    finally:
        await rt.redis.delete(MODE_KEY)
        slow.stop()
    assert outcome["status"] == "success"
    assert code == 0
    pid = int(str(outcome["paymentId"]))
    assert int(await rt.redis.get(f"{PROVIDER_LEDGER_PREFIX}count:{pid}") or 0) == 1
    async with rt.db.read_sessions() as s:
        assert (await s.get(Payment, pid)).status == "AUTHORIZED"  # type: ignore[union-attr]
    lines = [json.loads(x) for x in slow.log_path.read_text().splitlines()
             if x.startswith("{")]
    drain = [x for x in lines if x.get("event") == "worker_draining"]
    assert drain and drain[0]["running_payments"] == 1, lines[-10:]
    assert not any(x.get("event") == "worker_drain_timeout" for x in lines)
