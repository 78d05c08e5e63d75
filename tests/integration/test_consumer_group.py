"""Consumers scale by partitions: two `ticketing consumers` processes in one consumer group
share the topic's partitions (each gets some), sales of events whose keys land on every
partition flow through the real relay, and at the end the sales projection matches the
database (the audit is clean) with every message applied exactly once across both."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
import pytest_asyncio
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from tests.conftest import TEST_ENV, create_pg_database, drop_pg_database
from tests.integration.flows import hold_and_order, pay
from tests.integration.helpers import eventually, on_sale_event
from tests.integration.inprocess import stack_settings
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.db.models import Order, OrderItem, OutboxEvent, SalesProjection
from ticketing_app.embedded import ChildProcess, free_port
from ticketing_app.services import audit as A
from ticketing_app.settings import PROJECT_ROOT
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration

PARTITIONS = 3
GROUP = "sales-projection"
Samples = list[tuple[str, dict[str, str], float]]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    url = create_pg_database()
    st = Stack(database_url=url, extra_env={
        **TEST_ENV, "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS), "METRICS_INTERVAL_S": "0.2",
        "PAYMENT_SUCCESS_RATE": "0.7"}).start_services()
    try:
        st.migrate()
        yield st
    finally:
        st.stop()
        drop_pg_database(url)


@pytest_asyncio.fixture(scope="module")
async def rt(stack: Stack) -> AsyncIterator[Runtime]:
    runtime = await create_runtime(stack_settings(stack.env()))
    try:
        yield runtime
    finally:
        await runtime.close()


def owned(starts: list[Callable[[], ChildProcess]], attempts: int = 3) -> list[ChildProcess]:
    """Start processes all at once (each takes seconds to import on a busy machine), each on
    a free port, and make sure what answers on each port is that process: another session
    can take a free port before the process binds it (then it is started again)."""
    procs = [start() for start in starts]
    for i, start in enumerate(starts):
        for _ in range(attempts):
            if answers_as_itself(procs[i]):
                break
            procs[i].stop()
            procs[i] = start()
        else:
            raise RuntimeError(f"{procs[i].name} could not keep a port")
    return procs


def answers_as_itself(proc: ChildProcess, timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.running:
        try:
            body = httpx.get(f"http://127.0.0.1:{proc.port}/actuator/health/liveness",
                             timeout=2).json()
            if proc.proc is not None and body.get("pid") == proc.proc.pid:
                return True
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    return False


def with_ops(st: Stack, kind: str, name: str) -> Callable[[], ChildProcess]:
    def start() -> ChildProcess:
        port = free_port()
        proc = st.start_process(kind, name, OPS_PORT=str(port))
        proc.port = port
        return proc

    return start


def api(st: Stack) -> Callable[[], ChildProcess]:
    def start() -> ChildProcess:
        port = free_port()
        proc = ChildProcess("api", [sys.executable, "-m", "ticketing_app.cli", "api", "--port",
                                    str(port)], port, st.workdir / "logs" / "api.log",
                            env=st.env(), cwd=PROJECT_ROOT)
        st.procs["api"] = proc.start(wait=False)
        return proc

    return start


async def scrape(proc: ChildProcess, path: str = "/metrics") -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as c:
        return await c.get(f"http://127.0.0.1:{proc.port}{path}")


async def samples(proc: ChildProcess) -> Samples:
    r = await scrape(proc)
    assert r.status_code == 200, r.text
    return [(s.name, dict(s.labels), s.value)
            for fam in text_string_to_metric_families(r.text) for s in fam.samples]


def value(m: Samples, name: str, **labels: str) -> float:
    return sum(v for n, lb, v in m if n == name and all(lb.get(k) == x for k, x in
                                                        labels.items()))


def lag_partitions(m: Samples) -> set[str]:
    return {lb["partition"] for n, lb, _ in m
            if n == "tk_consumer_lag_messages" and lb.get("consumer") == GROUP}


async def events_on_every_partition(rt: Runtime) -> dict[int, list[int]]:
    """On-sale events until their keys (the event id, as the relay sends them) cover every
    partition, as the producer's default partitioner places them: event id -> seat ids."""
    place = DefaultPartitioner()
    parts = list(range(PARTITIONS))
    events: dict[int, list[int]] = {}
    covered: set[int] = set()
    while covered != set(parts) or len(events) < 2 * PARTITIONS:
        event_id, seats = await on_sale_event(rt, 1, 6)
        events[event_id] = seats
        covered.add(place(str(event_id).encode(), parts, parts))
        assert len(events) < 40, "keys never covered every partition"
    return events


async def test_two_consumer_processes_share_the_partitions_and_the_projection_is_exact(
    stack: Stack, rt: Runtime,
) -> None:
    # The topic with its partitions, as the relay creates it at start (made here first so no
    # consumer's metadata request can have the broker create it with a default count).
    await rt.kafka.ensure_topics()
    relay, worker, api_proc, *consumers = owned([
        with_ops(stack, "relay", "relay"), with_ops(stack, "worker", "worker"), api(stack),
        with_ops(stack, "consumers", "consumers-a"), with_ops(stack, "consumers", "consumers-b")])
    try:
        # The group settles with both members holding partitions, all of them between them.
        async def shared() -> list[float] | None:
            held = [value(await samples(c), "tk_consumer_partitions_assigned", consumer=GROUP)
                    for c in consumers]
            return held if all(h >= 1 for h in held) and sum(held) == PARTITIONS else None

        held = await eventually(shared, timeout=60, interval=0.3)

        # Sales on events spread over every partition, through the real API, payment worker
        # and relay processes, to both consumer processes.
        events = await events_on_every_partition(rt)

        async def buy(event_id: int, seat: int) -> None:
            async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{api_proc.port}", timeout=60,
                    headers={"X-Caller-Id": f"buyer-{uuid.uuid4().hex[:8]}"}) as c:
                order_id = await hold_and_order(c, event_id, [seat])
                assert (await pay(c, order_id))["status"] in ("success", "fail")

        gate = asyncio.Semaphore(6)

        async def gated(event_id: int, seat: int) -> None:
            async with gate:
                await buy(event_id, seat)

        await asyncio.gather(*(gated(ev, seat) for ev, seats in events.items()
                               for seat in seats[:3]))

        # Every event's projection catches up and matches the database.
        async def projected() -> bool:
            for event_id in events:
                if not (await A.audit(rt, event_id, outbox_grace_s=0, settle_s=0)).ok:
                    return False
            return True

        await eventually(projected, timeout=60, interval=0.5)

        async with rt.db.read_sessions() as s:
            rows = int((await s.execute(select(func.count(OutboxEvent.id)))).scalar_one())  # type: ignore[arg-type]
            sold = dict((await s.execute(
                select(Order.event_id, func.count(OrderItem.id))  # type: ignore[arg-type]
                .join(OrderItem, OrderItem.order_id == Order.id)  # type: ignore[arg-type]
                .where(Order.status == "CONFIRMED").group_by(Order.event_id))).all())
            projection = {p.event_id: p for p in (await s.execute(
                select(SalesProjection))).scalars()}
        assert sum(sold.values()) > 0
        for event_id in events:
            p = projection[event_id]
            assert p.orders_created == 3, (event_id, p)
            assert p.seats_sold == sold.get(event_id, 0), (event_id, p)
            assert p.payments_success + p.payments_failed == 3, (event_id, p)

        # Each process applied part of the stream; together every message exactly once
        # (a re-read after a rebalance counts as a duplicate, not applied again).
        per_process = [await samples(c) for c in consumers]
        applied = [value(m, "tk_consumer_processed_total", consumer=GROUP, result="applied")
                   for m in per_process]
        assert all(a > 0 for a in applied), f"one process did all the work: {applied}"
        assert sum(applied) == rows
        # The partitions each reports lag for are its own: disjoint, all of them together.
        mine = [lag_partitions(m) for m in per_process]
        assert not (mine[0] & mine[1]) and mine[0] | mine[1] == {str(p) for p in
                                                                 range(PARTITIONS)}, mine
        assert held and sum(held) == PARTITIONS
    finally:
        # SIGTERM; a consumer leaving its group may wait for the broker's answer a while.
        for proc in (*consumers, relay, worker, api_proc):
            proc.stop(timeout=30)
    for proc in consumers:
        assert proc.proc is not None and proc.proc.returncode == 0, \
            proc.log_path.read_text()[-2000:]
