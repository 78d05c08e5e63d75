"""The hold path on a Redis Cluster: three primaries and three replicas of the embedded Valkey
(tests/integration/cluster.py), an API process and a worker using the cluster for holds, live
sync, limits and the sweeper, and a plain Valkey for ARQ's queues (JOBS_REDIS_URL), on
PostgreSQL.

- Holds, orders and payments of events whose keys live on different shards.
- The seat stream (SSE) hears a change through sharded pub/sub.
- A primary killed while clients race to buy, its replica promoted (CLUSTER FAILOVER
  TAKEOVER): the replica had missed the last sales (it was stopped while they were made), and
  the shard watch rebuilds the event from the database; the audit is clean afterwards and no
  seat is sold twice.

Deadlines here are correctness deadlines (the expected state must come), not speed checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import aiohttp
import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bench.sse_client import SeatStreamClient
from tests.conftest import TEST_ENV, create_pg_database, drop_pg_database
from tests.integration.cluster import Node, ValkeyCluster
from tests.integration.flows import hold_and_order
from tests.integration.helpers import eventually, on_sale_event, pay, wait_ready
from tests.integration.inprocess import stack_settings
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.db.models import Order, OrderItem
from ticketing_app.embedded import ChildProcess, free_port
from ticketing_app.holds.keys import EventKeys
from ticketing_app.holds.shards import STAMP_FIELD, topology
from ticketing_app.settings import PROJECT_ROOT
from ticketing_app.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

DEADLINE_S = 30.0
# No broker or relay runs here (what is tested is Redis against the database): the outbox's
# rows stay pending, which the audit must not count.
NO_BROKER = 24 * 3600.0


@dataclass
class ClusterStack:
    cluster: ValkeyCluster
    stack: Stack

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.stack.procs['api'].port}"


@pytest.fixture(scope="module")
def cstack() -> Iterator[ClusterStack]:
    url = create_pg_database()
    cluster = ValkeyCluster()
    st = Stack(database_url=url, extra_env={**TEST_ENV,
                                            "PAYMENT_FORCE_OUTCOME": "success",
                                            "REDIS_MAX_CONNECTIONS": "64"})
    try:
        cluster.start()
        st.start_services(kafka=False)  # its Valkey: the plain one, for the jobs
        st.extra_env.update(REDIS_URL=cluster.url, JOBS_REDIS_URL=st.redis_url)
        st.migrate()
        # Started without the port deadline of Stack.start_api: on a loaded machine the first
        # import of the app alone can take longer; readiness is the deadline instead.
        port = free_port()
        st.procs["api"] = ChildProcess(
            "api", [sys.executable, "-m", "ticketing_app.cli", "api", "--port", str(port)], port,
            st.workdir / "logs" / "api.log", env=st.env(), cwd=PROJECT_ROOT).start(wait=False)
        st.start_process("worker")
        wait_ready(f"http://127.0.0.1:{port}", st.procs["api"].log_path, timeout=180)
        yield ClusterStack(cluster, st)
    finally:
        st.stop()
        cluster.stop()
        drop_pg_database(url)


@pytest_asyncio.fixture(scope="module")
async def rt(cstack: ClusterStack) -> AsyncIterator[Runtime]:
    runtime = await create_runtime(stack_settings(cstack.stack.env()))
    try:
        yield runtime
    finally:
        await runtime.close()


async def events_on_distinct_shards(rt: Runtime, cluster: ValkeyCluster, n: int,
                                    rows: int = 4, cols: int = 10
                                    ) -> list[tuple[int, list[int], Node]]:
    """`n` new events whose keys live on `n` different primaries."""
    found: dict[int, tuple[int, list[int], Node]] = {}
    for _ in range(40):
        event_id, seats = await on_sale_event(rt, rows, cols, max_seats_per_buyer=50)
        node = cluster.node_for_key(EventKeys(event_id).meta)
        found.setdefault(node.port, (event_id, seats, node))
        if len(found) == n:
            return list(found.values())
    raise AssertionError("could not place events on distinct shards")


def client(cs: ClusterStack, buyer: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=cs.api, headers={"X-Caller-Id": buyer}, timeout=30)


async def sold_twice(rt: Runtime) -> list[tuple[int, int]]:
    """(seat, confirmed orders holding it) for any seat in more than one confirmed order."""
    async with rt.db.read_sessions() as s:
        rows = (await s.execute(
            select(OrderItem.seat_id, func.count())
            .join(Order, Order.id == OrderItem.order_id)  # type: ignore[arg-type]
            .where(Order.status == "CONFIRMED")  # type: ignore[arg-type]
            .group_by(OrderItem.seat_id).having(func.count() > 1))).all()
    return [(int(a), int(b)) for a, b in rows]


async def test_holds_orders_and_payments_on_events_of_three_shards(
    cstack: ClusterStack, rt: Runtime,
) -> None:
    placed = await events_on_distinct_shards(rt, cstack.cluster, 3)
    slots = {rt.redis.keyslot(EventKeys(e).meta) for e, _, _ in placed}  # type: ignore[attr-defined]
    assert len(slots) == 3 and len({n.port for _, _, n in placed}) == 3
    for event_id, seats, _node in placed:
        # Every key a hold script touches is in the event's slot, the per-buyer and
        # per-address limit keys included.
        k = EventKeys(event_id)
        keys = [*k.script_keys(), *k.waiting_keys(), k.attempts("b", "ann", 1),
                k.attempts("a", "10.0.0.1", 1), k.challenge_used("x"), k.load_lock]
        assert {rt.redis.keyslot(k) for k in keys} == {  # type: ignore[attr-defined]
            rt.redis.keyslot(EventKeys(event_id).meta)}  # type: ignore[attr-defined]
        async with client(cstack, f"ann-{event_id}") as ann, \
                client(cstack, f"bob-{event_id}") as bob:
            # Two buyers race for the same seats: one wins, the other is a clean 409.
            r1, r2 = await asyncio.gather(*(
                c.post("/api/reservations", json={"eventId": event_id, "seatIds": seats[:2]})
                for c in (ann, bob)))
            assert sorted([r1.status_code, r2.status_code]) == [201, 409], (r1.text, r2.text)
            winner = ann if r1.status_code == 201 else bob
            r = await winner.post("/api/orders", json={"eventId": event_id,
                                                       "seatIds": seats[:2]},
                                  headers={"Idempotency-Key": uuid.uuid4().hex})
            assert r.status_code == 201, r.text
            assert await pay(winner, int(r.json()["orderId"])) == "success"
            loser = bob if winner is ann else ann
            r = await loser.post("/api/reservations", json={"eventId": event_id,
                                                            "seatIds": seats[:1]})
            assert r.status_code == 422, r.text  # sold
        body = (await httpx.AsyncClient(base_url=cstack.api).get(
            f"/api/events/{event_id}/seats")).json()
        status = {s["id"]: s["status"] for s in body["seats"]}
        assert [status[s] for s in seats[:2]] == ["SOLD", "SOLD"]
        snap = await rt.holds.snapshot(event_id)
        assert snap is not None and {snap.states[s].code for s in seats[:2]} == {"S"}
        # Stamped with the primary that serves its slot (the failover watch's reference).
        stamp = await rt.redis.hget(EventKeys(event_id).meta, STAMP_FIELD)  # type: ignore[misc]
        assert stamp.decode() == _node_id(cstack.cluster, _node)
    report = await rt.auditor.audit(settle_s=1, outbox_grace_s=NO_BROKER)
    assert report.discrepancies == [], report.discrepancies


def _node_id(cluster: ValkeyCluster, node: Node) -> str:
    return node.node_id


async def test_the_seat_stream_hears_a_change_through_sharded_pub_sub(
    cstack: ClusterStack, rt: Runtime,
) -> None:
    placed = await events_on_distinct_shards(rt, cstack.cluster, 2)
    async with aiohttp.ClientSession() as http:
        streams = []
        for event_id, _seats, _ in placed:
            c = SeatStreamClient(cstack.api, event_id)
            assert await c.connect(http) == 200, c.errors
            assert await c.wait_for(lambda x: x.of_kind("INIT"), DEADLINE_S)
            streams.append(c)
        for (event_id, seats, _), c in zip(placed, streams, strict=True):
            async with client(cstack, "sse-buyer") as buyer:
                r = await buyer.post("/api/reservations",
                                     json={"eventId": event_id, "seatIds": [seats[3]]})
                assert r.status_code == 201, r.text
            assert await c.wait_for(lambda x, s=seats[3]: any(
                u["seatId"] == s and u["status"] == "HELD" for u in x.of_kind("SEAT_UPDATE")),
                DEADLINE_S), c.messages
            # Only its own event's changes reach a stream.
            assert {u["seatId"] for u in c.of_kind("SEAT_UPDATE")} <= set(seats)
        for c in streams:
            await c.close()
        # A reconnect with Last-Event-ID replays what it missed from the event's change log
        # (a Redis stream in the event's slot), not a fresh INIT.
        (event_id, seats, _), c = placed[0], streams[0]
        async with client(cstack, "sse-buyer") as buyer:
            r = await buyer.delete(f"/api/reservations/{event_id}/{seats[3]}")
            assert r.status_code == 204, r.text
        again = SeatStreamClient(cstack.api, event_id, last_id=c.last_id)
        assert await again.connect(http) == 200, again.errors
        assert await again.wait_for(lambda x: any(
            u["seatId"] == seats[3] and u["status"] == "AVAILABLE"
            for u in x.of_kind("SEAT_UPDATE")), DEADLINE_S), again.messages
        assert not again.of_kind("INIT")
        await again.close()


async def test_a_sale_committed_after_the_rebuild_read_the_database_is_put_back(
    cstack: ClusterStack, rt: Runtime,
) -> None:
    """The race the repair closes: a settlement sold in Redis on the failed shard (lost), the
    rebuild read the order as still open (a lock), then the database committed the sale."""
    (event_id, seats, _), = await events_on_distinct_shards(rt, cstack.cluster, 1)
    async with client(cstack, "repair-buyer") as c:
        paid = await hold_and_order(c, event_id, seats[:2])
        assert await pay(c, paid) == "success"
    st = f"{EventKeys(event_id).base}:st"
    sold = await rt.redis.hget(st, str(seats[0]))  # type: ignore[misc]
    _, token, buyer = sold.decode().split("|")
    far = 2**41
    await rt.redis.hset(st, str(seats[0]),  # type: ignore[misc]
                        f"O|{token}|{buyer}|{far}|tag")
    await rt.redis.hdel(st, str(seats[1]))  # type: ignore[misc]
    await rt.catalog.repair_event_state(event_id)
    snap = await rt.holds.snapshot(event_id)
    assert snap is not None and [snap.states[s].code for s in seats[:2]] == ["S", "S"]
    report = await rt.auditor.audit(event_id, settle_s=0, outbox_grace_s=NO_BROKER)
    assert report.discrepancies == []


async def buyer_loop(cs: ClusterStack, name: str, event_id: int, seats: list[int],
                     stop: asyncio.Event, sold: list[int], held: list[int]) -> None:
    """Hold a random seat, then order and pay for it (one time in three) or give it back;
    every refusal or 5xx (a shard failing over) just moves on to another seat."""
    rng = random.Random(name)
    async with client(cs, name) as c:
        while not stop.is_set():
            seat = rng.choice(seats)
            with contextlib.suppress(httpx.HTTPError, AssertionError, KeyError, ValueError):
                r = await c.post("/api/reservations", json={"eventId": event_id,
                                                             "seatIds": [seat]})
                if r.status_code != 201:
                    await asyncio.sleep(0.05)
                    continue
                held.append(event_id)
                if rng.random() > 1 / 3:
                    await c.delete(f"/api/reservations/{event_id}/{seat}")
                    continue
                r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": [seat]},
                                 headers={"Idempotency-Key": uuid.uuid4().hex})
                if r.status_code != 201:
                    continue
                if await pay(c, int(r.json()["orderId"])) == "success":
                    sold.append(seat)


async def test_a_primary_dies_mid_sale_and_its_events_are_rebuilt_from_the_database(
    cstack: ClusterStack, rt: Runtime,
) -> None:
    cluster = cstack.cluster
    (victim_event, victim_seats, victim), (other_event, other_seats, _) = \
        await events_on_distinct_shards(rt, cluster, 2, rows=5, cols=10)
    stop = asyncio.Event()
    sold: list[int] = []
    held: list[int] = []
    racers = [asyncio.create_task(buyer_loop(cstack, f"racer-{i}", ev, seats[:40], stop, sold,
                                             held))
              for i in range(6) for ev, seats in ((victim_event, victim_seats),
                                                  (other_event, other_seats))]
    try:
        await eventually(lambda: _true(len(sold) >= 2 and victim_event in held), timeout=60)
        replica = cluster.replica_of(victim)
        # The replica misses what follows: it is stopped while a sale and an open order are
        # made on its primary, then the primary dies with them.
        os.killpg(replica.proc.proc.pid, signal.SIGSTOP)  # type: ignore[union-attr]
        try:
            async with client(cstack, "late-buyer") as late:
                paid = await hold_and_order(late, victim_event, victim_seats[40:42])
                assert await pay(late, paid) == "success"
                open_order = await hold_and_order(late, victim_event, victim_seats[44:46])
        finally:
            victim.proc.kill()
            os.killpg(replica.proc.proc.pid, signal.SIGCONT)  # type: ignore[union-attr]
        promoted = cluster.kill_and_promote(victim)
        # The racers keep going through the failover, and hold on the promoted shard again.
        before = held.count(victim_event)
        await eventually(lambda: _true(held.count(victim_event) > before), timeout=60)
    finally:
        stop.set()
        await asyncio.gather(*racers, return_exceptions=True)

    # The shard watch (in the API and the worker) noticed and rebuilt the event on the
    # promoted replica: stamped with its id, sold seats and the open order's lock back.
    async def rebuilt() -> bool:
        raw = await rt.redis.hget(EventKeys(victim_event).meta, STAMP_FIELD)  # type: ignore[misc]
        return raw is not None and raw.decode() == promoted.node_id
    await eventually(rebuilt, timeout=DEADLINE_S)
    snap = await rt.holds.snapshot(victim_event)
    assert snap is not None
    assert [snap.states[s].code for s in victim_seats[40:42]] == ["S", "S"]
    assert [snap.states[s].code for s in victim_seats[44:46]] == ["O", "O"]
    topo = await topology(rt.redis)
    assert victim.node_id not in {n for _, _, n in topo.ranges}

    last: list[object] = []

    async def clean() -> bool:
        report = await rt.auditor.audit(settle_s=1, outbox_grace_s=NO_BROKER)
        last[:] = report.discrepancies
        return not report.discrepancies
    try:
        await eventually(clean, timeout=DEADLINE_S)
    except AssertionError:
        raise AssertionError(f"audit not clean: {last}") from None
    assert await sold_twice(rt) == []
    assert len(set(sold)) == len(sold)  # no seat reported paid to two racers
    async with client(cstack, "late-buyer") as late:
        assert (await late.get(f"/api/orders/{open_order}")).json()["status"] == "CREATED"


async def _true(value: bool) -> bool:
    return value
