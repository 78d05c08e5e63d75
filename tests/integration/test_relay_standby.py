"""The relay's standby: two `ticketing relay` processes on PostgreSQL take the outbox's batches
in turn (an advisory lock); one is SIGKILLed while rows keep arriving, and the other publishes
the rest. Every row ends SENT and is on the topic, in each event's order."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlmodel import col

from tests.conftest import TEST_ENV, create_pg_database, drop_pg_database
from tests.integration.helpers import eventually
from tests.integration.inprocess import stack_settings
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.db.models import OutboxEvent
from ticketing_app.domain.events import Envelope
from ticketing_app.embedded import ChildProcess, free_port
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration

EVENTS = (101, 102, 103)  # partition keys (concert event ids)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    url = create_pg_database()
    st = Stack(database_url=url, extra_env={**TEST_ENV, "METRICS_INTERVAL_S": "0.2"}
               ).start_services()
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


def start_relays(st: Stack, names: list[str]) -> list[ChildProcess]:
    """Both at once, each on a free port it is made sure to own (liveness names the pid)."""
    procs = []
    for name in names:
        port = free_port()
        proc = st.start_process("relay", name, OPS_PORT=str(port))
        proc.port = port
        procs.append(proc)
    for proc in procs:
        deadline = time.monotonic() + 90
        while True:
            try:
                body = httpx.get(f"http://127.0.0.1:{proc.port}/actuator/health/liveness",
                                 timeout=2).json()
                if proc.proc is not None and body.get("pid") == proc.proc.pid:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            assert time.monotonic() < deadline and proc.running, proc.log_path.read_text()[-2000:]
            time.sleep(0.1)
    return procs


async def published(proc: ChildProcess) -> float:
    async with httpx.AsyncClient(timeout=10) as c:
        text = (await c.get(f"http://127.0.0.1:{proc.port}/metrics")).text
    return sum(s.value for fam in text_string_to_metric_families(text) for s in fam.samples
               if s.name == "tk_outbox_published_total")


async def write_rows(rt: Runtime, n: int, seq: dict[int, int]) -> list[str]:
    """`n` outbox rows spread over the events, each carrying its per-event sequence number."""
    ids = []
    async with rt.db.write_sessions() as s:
        for i in range(n):
            event_id = EVENTS[i % len(EVENTS)]
            seq[event_id] += 1
            env = Envelope(type="ORDER_CREATED", aggregateId=str(uuid.uuid4().int % 10**9),
                           traceId="", payload={"eventId": event_id, "seq": seq[event_id]})
            s.add(OutboxEvent(event_uuid=env.eventId, event_type=env.type,
                              aggregate_id=env.aggregateId, partition_key=str(event_id),
                              payload=env.model_dump()))
            ids.append(env.eventId)
        await s.commit()
    return ids


async def pending(rt: Runtime) -> int:
    async with rt.db.read_sessions() as s:
        return int((await s.execute(select(func.count(col(OutboxEvent.id))).where(
            col(OutboxEvent.status) != "SENT"))).scalar_one())


async def topic_contents(rt: Runtime, expected: int) -> list[dict[str, object]]:
    """Every envelope on the topic, read from the beginning by a group of its own."""
    s = rt.settings
    consumer = AIOKafkaConsumer(s.kafka_topic, bootstrap_servers=s.kafka_bootstrap,
                                group_id=f"reader-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    out: list[dict[str, object]] = []
    try:
        deadline = time.monotonic() + 60
        while len(out) < expected and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                out.extend(json.loads(m.value) for m in messages)
    finally:
        await consumer.stop()
    return out


async def test_the_standby_relay_publishes_the_rest_when_the_active_one_dies(
    stack: Stack, rt: Runtime,
) -> None:
    seq: dict[int, int] = defaultdict(int)
    a, b = start_relays(stack, ["relay-a", "relay-b"])
    try:
        rows = await write_rows(rt, 60, seq)

        async def drained() -> bool:
            return await pending(rt) == 0

        await eventually(drained, timeout=60, interval=0.2)
        counts = [await published(p) for p in (a, b)]
        assert sum(counts) == 60, counts  # both together: each row once
        # SIGKILL the one that published most (no drain, no goodbye), while rows keep coming.
        dead, standby = (a, b) if counts[0] >= counts[1] else (b, a)
        before = await published(standby)
        assert dead.proc is not None
        os.killpg(dead.proc.pid, signal.SIGKILL)
        for _ in range(4):
            rows += await write_rows(rt, 15, seq)
            await asyncio.sleep(0.3)
        await eventually(drained, timeout=60, interval=0.2)
        assert await published(standby) - before >= 60, "the standby did not take over"
    finally:
        for proc in (a, b):
            proc.stop(timeout=30)

    # Every row is on the topic (at least once: a batch the dead relay sent but had not
    # marked is sent again), and each event's messages arrive in the order they were written.
    envelopes = await topic_contents(rt, len(rows))
    assert {str(e["eventId"]) for e in envelopes} == set(rows)
    per_event: dict[int, list[int]] = defaultdict(list)
    for e in envelopes:
        payload = e["payload"]
        assert isinstance(payload, dict)
        per_event[int(payload["eventId"])].append(int(payload["seq"]))
    for event_id, seen in per_event.items():
        first = list(dict.fromkeys(seen))  # a re-sent batch repeats; first sightings in order
        assert first == sorted(first) == list(range(1, seq[event_id] + 1)), event_id
