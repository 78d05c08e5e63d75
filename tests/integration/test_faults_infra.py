"""Fault injection in the infrastructure, with real processes on each database backend (SQLite
and PostgreSQL): the API killed in the middle of POST /api/orders, the relay killed between the
broker's acknowledgement and marking the rows sent, the broker stopped and restarted empty,
Redis restarted empty, and (PostgreSQL only) the database cut off behind a TCP proxy. Each test
ends with the reconciliation audit clean."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlmodel import col

from backend_jobs.provider import MODE_KEY
from tests.integration.faults import (
    FAULT_BACKENDS,
    SQLITE_IS_A_FILE,
    TcpProxy,
    assert_audit_clean,
    assert_unavailable,
    authorize,
    buyer_name,
    client,
    fault_stack,
    hold_and_order,
    is_sqlite,
    new_event,
    order_statuses,
    payments_of,
    restart,
    signal_group,
    wait_all_final,
)
from tests.integration.helpers import assert_error, eventually
from tests.integration.inprocess import stack_settings
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.db.models import (
    IdempotencyRecord,
    Notification,
    Order,
    OutboxEvent,
    ProcessedEvent,
    SalesProjection,
)
from ticketing_app.settings import PROJECT_ROOT
from ticketing_app.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.fault]

DRAIN_BOUND_S = 10  # docs/reliability.md, "Guarantees"
PROJECTION = "sales-projection"


@pytest.fixture(scope="module", params=FAULT_BACKENDS)
def faulty(request: pytest.FixtureRequest) -> Iterator[Stack]:
    with fault_stack(str(request.param)) as st:
        yield st


@pytest_asyncio.fixture(scope="module")
async def rt(faulty: Stack) -> AsyncIterator[Runtime]:
    runtime = await create_runtime(stack_settings(faulty.env()))
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest_asyncio.fixture
async def approving(rt: Runtime) -> AsyncIterator[None]:
    """Every payment approved while the test runs (the simulator's console key)."""
    await rt.redis.set(MODE_KEY, "success")
    yield
    await rt.redis.delete(MODE_KEY)


async def snapshot_codes(rt: Runtime, event_id: int, seats: list[int]) -> dict[int, str]:
    """Redis's raw seat codes (A free, H held, O locked by an order, S sold)."""
    snap = await rt.holds.snapshot(event_id)
    assert snap is not None
    return {s: (snap.states[s].code if s in snap.states else "A") for s in seats}


async def outbox_rows(rt: Runtime, event_id: int) -> list[OutboxEvent]:
    async with rt.db.read_sessions() as s:
        return list((await s.execute(select(OutboxEvent).where(
            col(OutboxEvent.partition_key) == str(event_id))
            .order_by(col(OutboxEvent.id)))).scalars())


async def processed(rt: Runtime, event_uuids: list[str], consumer: str = PROJECTION) -> set[str]:
    async with rt.db.read_sessions() as s:
        return set((await s.execute(select(col(ProcessedEvent.event_uuid)).where(
            col(ProcessedEvent.consumer) == consumer,
            col(ProcessedEvent.event_uuid).in_(event_uuids)))).scalars())


async def projection(rt: Runtime, event_id: int) -> dict[str, int]:
    async with rt.db.read_sessions() as s:
        row = await s.get(SalesProjection, event_id)
    assert row is not None
    return {k: getattr(row, k) for k in (
        "orders_created", "orders_confirmed", "orders_cancelled", "seats_sold", "revenue",
        "payments_success", "payments_failed")}


async def notifications(rt: Runtime, order_ids: list[int]) -> Counter[tuple[int, str]]:
    async with rt.db.read_sessions() as s:
        rows = (await s.execute(select(col(Notification.order_id), col(Notification.kind))
                                .where(col(Notification.order_id).in_(order_ids)))).all()
    return Counter((int(o), str(k)) for o, k in rows)


async def kafka_copies(bootstrap: str, topic: str) -> Counter[str]:
    """How many times each envelope (by its eventId header) is in the topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                group_id=None)
    await consumer.start()
    try:
        await consumer.topics()
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        copies: Counter[str] = Counter()
        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in parts])

        while await behind():
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                for m in messages:
                    copies[dict(m.headers or []).get("eventId", b"").decode()] += 1
        return copies
    finally:
        await consumer.stop()


def cli(st: Stack, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "ticketing_app.cli", *args], env=st.env(),
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr  # the command's messages go to stderr (rich console)


async def post_order(c: httpx.AsyncClient, event_id: int, seats: list[int],
                     key: str | None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return await c.post("/api/orders", json={"eventId": event_id, "seatIds": seats},
                        headers=headers)


async def until_not_in_progress(c: httpx.AsyncClient, event_id: int, seats: list[int],
                                key: str, timeout: float = 20) -> httpx.Response:
    """Retries like a client would: `409 IDEMPOTENCY_IN_PROGRESS` while the first attempt's
    lease runs (IDEMPOTENCY_LEASE_S), then the stored or taken-over answer."""
    deadline = time.monotonic() + timeout
    while True:
        r = await post_order(c, event_id, seats, key)
        if r.status_code != 409 or time.monotonic() > deadline:
            return r
        assert_error(r, 409, "IDEMPOTENCY_IN_PROGRESS")
        await asyncio.sleep(0.25)


# ---- the API killed mid-request -------------------------------------------------------------

async def test_api_killed_mid_order_then_retried_with_the_same_key_makes_one_order(
    faulty: Stack, rt: Runtime, approving: None,
) -> None:
    event_id, seats = await new_event(rt, 1, 8)
    # Two API processes that stop inside POST /api/orders (test-only pause points): one after
    # the seats are locked in Redis, one after the order is committed. Both get SIGKILLed.
    faulty.start_api("api-after-lock", FAULT_INJECT="order.after_lock")
    faulty.start_api("api-after-commit", FAULT_INJECT="order.after_commit")
    a, b = buyer_name("killed-a"), buyer_name("killed-b")
    key_a, key_b = uuid.uuid4().hex, uuid.uuid4().hex
    async with client(faulty, a) as main, client(faulty, a, "api-after-lock") as doomed:
        r = await main.post("/api/reservations", json={"eventId": event_id,
                                                       "seatIds": seats[:2]})
        assert r.status_code == 201, r.text
        first = asyncio.create_task(post_order(doomed, event_id, seats[:2], key_a))

        async def locked() -> bool:
            return await snapshot_codes(rt, event_id, seats[:2]) == dict.fromkeys(seats[:2], "O")

        await eventually(locked, timeout=20, interval=0.02)
        # While the first attempt runs: the same request again is 409, the same key with
        # another body 422, no key 400 (the IETF Idempotency-Key draft's codes).
        assert_error(await post_order(main, event_id, seats[:2], key_a), 409,
                     "IDEMPOTENCY_IN_PROGRESS")
        assert_error(await post_order(main, event_id, seats[:1], key_a), 422,
                     "IDEMPOTENCY_KEY_REUSED")
        missing = assert_error(await post_order(main, event_id, seats[:2], None), 400,
                               "BAD_REQUEST")
        assert missing["details"][0]["field"] == "Idempotency-Key"
        signal_group(faulty.procs["api-after-lock"], signal.SIGKILL)
        with pytest.raises(httpx.TransportError):
            await first
        # The client retries with the same key: the dead attempt is taken over once its lease
        # lapses, and the answer is then the same for every further retry.
        retried = await until_not_in_progress(main, event_id, seats[:2], key_a)
        assert retried.status_code == 201, retried.text
        again = await post_order(main, event_id, seats[:2], key_a)
        assert again.status_code == 201 and again.json() == retried.json()
        order_a = int(retried.json()["orderId"])
        assert retried.json()["seatIds"] == seats[:2] and retried.json()["status"] == "CREATED"

    async with client(faulty, b) as main, client(faulty, b, "api-after-commit") as doomed:
        r = await main.post("/api/reservations", json={"eventId": event_id,
                                                       "seatIds": seats[2:4]})
        assert r.status_code == 201, r.text
        first = asyncio.create_task(post_order(doomed, event_id, seats[2:4], key_b))

        async def committed() -> bool:
            async with rt.db.read_sessions() as s:
                return (await s.execute(select(Order).where(
                    col(Order.buyer_id) == b))).scalar_one_or_none() is not None

        await eventually(committed, timeout=20, interval=0.02)
        signal_group(faulty.procs["api-after-commit"], signal.SIGKILL)
        with pytest.raises(httpx.TransportError):
            await first
        # The answer the client never received is the stored one, replayed at once.
        retried = await post_order(main, event_id, seats[2:4], key_b)
        assert retried.status_code == 201, retried.text
        order_b = int(retried.json()["orderId"])
        assert retried.json() == (await main.get(f"/api/orders/{order_b}")).json()
        assert (await post_order(main, event_id, seats[2:4], key_b)).json() == retried.json()

    async with rt.db.read_sessions() as s:
        orders = Counter((await s.execute(select(col(Order.buyer_id)).where(
            col(Order.event_id) == event_id))).scalars())
        records = Counter((await s.execute(select(col(IdempotencyRecord.status)).where(
            col(IdempotencyRecord.key).in_([key_a, key_b])))).scalars())
    assert orders == Counter({a: 1, b: 1})
    assert records == Counter({"COMPLETED": 2})
    created = Counter(r.aggregate_id for r in await outbox_rows(rt, event_id)
                      if r.event_type == "ORDER_CREATED")
    assert created == Counter({str(order_a): 1, str(order_b): 1})
    for buyer, order_id in ((a, order_a), (b, order_b)):
        async with client(faulty, buyer) as c:
            assert (await authorize(c, order_id)).json()["status"] == "success"
    await assert_audit_clean(rt, event_id)


# ---- the relay killed between the broker's ack and marking the rows sent ---------------------

async def test_relay_killed_after_the_ack_resends_without_a_second_effect(
    faulty: Stack, rt: Runtime, approving: None,
) -> None:
    event_id, seats = await new_event(rt, 1, 6)
    faulty.procs["relay"].stop()
    buyer = buyer_name("resent")
    paused = None
    try:
        async with client(faulty, buyer) as c:
            order_id = int((await hold_and_order(c, event_id, seats[:2]))["orderId"])
            assert (await authorize(c, order_id)).json()["status"] == "success"
        rows = await outbox_rows(rt, event_id)
        assert [r.event_type for r in rows] == ["ORDER_CREATED", "PAYMENT_SUCCESS",
                                                "ORDER_CONFIRMED"]
        assert {r.status for r in rows} == {"PENDING"}
        uuids = [r.event_uuid for r in rows]
        paused = faulty.start_process("relay", "relay-after-ack", FAULT_INJECT="relay.after_ack")

        async def consumed_not_marked() -> bool:
            # Both consumers applied them (the notifications one may lag the projection on a
            # loaded machine: what it told the buyer is read below).
            return await processed(rt, uuids) == set(uuids) and \
                await processed(rt, uuids, "notifications") == set(uuids)

        # The broker has them (the projection applied them) and the rows are still PENDING.
        await eventually(consumed_not_marked, timeout=20)
        assert {r.status for r in await outbox_rows(rt, event_id)} == {"PENDING"}
        before = await projection(rt, event_id)
        told = await notifications(rt, [order_id])
        signal_group(paused, signal.SIGKILL)
    finally:
        if paused is not None:
            paused.stop()  # SIGKILLed already, unless the test failed before
        restart(faulty, "relay")

    async def marked() -> bool:
        return {r.status for r in await outbox_rows(rt, event_id)} == {"SENT"}

    await eventually(marked, timeout=20)
    # The duplicate really went out: each envelope is in the topic twice...
    copies = await kafka_copies(faulty.kafka_bootstrap, rt.settings.kafka_topic)
    assert [copies[u] for u in uuids] == [2, 2, 2]

    # ...and had no second effect once both consumers are past it.
    async def past_duplicates() -> bool:
        return await processed(rt, uuids, "notifications") == set(uuids)

    await eventually(past_duplicates, timeout=20)
    async with client(faulty, buyer_name("after")) as c:
        marker = await hold_and_order(c, event_id, seats[2:3])
    marker_rows = [r.event_uuid for r in await outbox_rows(rt, event_id)
                   if r.aggregate_id == str(marker["orderId"])]

    async def marker_applied() -> bool:
        return await processed(rt, marker_rows) == set(marker_rows)

    await eventually(marker_applied, timeout=20)
    after = await projection(rt, event_id)
    assert after == {**before, "orders_created": before["orders_created"] + 1}
    assert before["orders_confirmed"] == 1 and before["seats_sold"] == 2
    assert await notifications(rt, [order_id]) == told and sum(told.values()) >= 1
    await assert_audit_clean(rt, event_id)


# ---- the broker stopped mid-relay and restarted empty ----------------------------------------

async def test_broker_restarted_empty_every_row_delivered_within_10s_of_its_return(
    faulty: Stack, rt: Runtime, approving: None,
) -> None:
    event_id, seats = await new_event(rt, 3, 10)
    buyers = [buyer_name("outage") for _ in range(15)]

    async def buy(i: int, pay: bool) -> int:
        async with client(faulty, buyers[i]) as c:
            order_id = int((await hold_and_order(c, event_id, seats[2 * i:2 * i + 2]))["orderId"])
            if pay:
                assert (await authorize(c, order_id)).json()["status"] == "success"
            return order_id

    before = [await buy(i, True) for i in range(2)]
    early = [r.event_uuid for r in await outbox_rows(rt, event_id)]

    async def projected() -> bool:
        return await processed(rt, early) == set(early)

    await eventually(projected, timeout=20)
    assert faulty.kafka is not None
    # Sales go on while the relay publishes; the broker dies in the middle of it.
    burst = asyncio.gather(*(buy(i, i % 2 == 0) for i in range(2, 14)))

    async def some_written() -> bool:
        return len(await outbox_rows(rt, event_id)) >= len(early) + 4

    await eventually(some_written, timeout=20, interval=0.01)
    faulty.kafka.kill()
    during = list(await burst)
    pending = [r for r in await outbox_rows(rt, event_id) if r.status == "PENDING"]
    assert pending, "nothing was left for the relay while the broker was away"
    faulty.restart_kafka()  # same port, nothing in it: topics, messages and offsets are gone
    back = time.monotonic()

    async def undelivered() -> list[tuple[int, str, str]]:
        """Rows not yet processed by the projection: (id, type, status)."""
        rows = await outbox_rows(rt, event_id)
        done = await processed(rt, [r.event_uuid for r in rows])
        return [(int(r.id or 0), r.event_type, r.status) for r in rows
                if r.status != "SENT" or r.event_uuid not in done]

    while left := await undelivered():
        assert time.monotonic() - back < DRAIN_BOUND_S, f"not delivered within 10 s: {left}"
        await asyncio.sleep(0.1)
    orders = before + during
    assert await order_statuses(rt, orders) == {
        o: ("CONFIRMED" if o in before or during.index(o) % 2 == 0 else "CREATED")
        for o in orders}
    live = await projection(rt, event_id)
    assert live["orders_created"] == 14 and live["orders_confirmed"] == 8
    assert live["seats_sold"] == 16 and live["revenue"] == 16 * 50000
    every = [r.event_uuid for r in await outbox_rows(rt, event_id)]

    async def mailed() -> bool:
        return await processed(rt, every, "notifications") == set(every)

    await eventually(mailed, timeout=20)
    told = await notifications(rt, orders)

    # Replaying the whole outbox of the event (`ticketing replay --all`) sends every row a
    # second time: the consumers drop them all as duplicates.
    sent_once = await kafka_copies(faulty.kafka_bootstrap, rt.settings.kafka_topic)
    assert "outbox rows queued" in cli(faulty, "replay", "--all", "--event", str(event_id))
    rows = await outbox_rows(rt, event_id)

    async def republished() -> bool:
        return all(r.status == "SENT" for r in await outbox_rows(rt, event_id))

    await eventually(republished, timeout=20)
    copies = await kafka_copies(faulty.kafka_bootstrap, rt.settings.kafka_topic)
    assert {r.event_uuid: copies[r.event_uuid] - sent_once[r.event_uuid] for r in rows} == \
        {r.event_uuid: 1 for r in rows}
    marker = await buy(14, False)
    marker_rows = [r.event_uuid for r in await outbox_rows(rt, event_id)
                   if r.aggregate_id == str(marker)]

    async def marker_applied() -> bool:
        return await processed(rt, marker_rows) == set(marker_rows)

    await eventually(marker_applied, timeout=20)
    assert await projection(rt, event_id) == {**live, "orders_created": 15}
    assert await notifications(rt, orders) == told
    # The projection rebuilt from the outbox alone (`ticketing replay --rebuild`) agrees.
    assert "projection rebuilt" in cli(faulty, "replay", "--rebuild")
    assert await projection(rt, event_id) == {**live, "orders_created": 15}
    await assert_audit_clean(rt, event_id)


# ---- Redis restarted empty --------------------------------------------------------------------

async def _hold_status(c: httpx.AsyncClient, event_id: int, seats: list[int]) -> httpx.Response:
    """A hold attempt; a 503 (Redis coming back, state being rebuilt) is retried shortly."""
    deadline = time.monotonic() + 10
    while True:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatIds": seats})
        if r.status_code != 503 or time.monotonic() > deadline:
            return r
        assert_error(r, 503, "SERVICE_UNAVAILABLE")
        await asyncio.sleep(0.2)


async def _set_mode(rt: Runtime, mode: str) -> bool:
    """Steers the provider; False while the client is still on a connection the restart cut."""
    try:
        return bool(await rt.redis.set(MODE_KEY, mode))
    except redis.exceptions.ConnectionError:
        return False


async def test_redis_restarted_empty_sold_seats_stay_sold_and_open_orders_finish(
    faulty: Stack, rt: Runtime,
) -> None:
    await rt.redis.set(MODE_KEY, "success")
    event_id, seats = await new_event(rt, 1, 10)
    sold_to, open_to, paying_to = buyer_name("sold"), buyer_name("open"), buyer_name("paying")
    async with client(faulty, sold_to) as c:
        sold = int((await hold_and_order(c, event_id, seats[0:2]))["orderId"])
        assert (await authorize(c, sold)).json()["status"] == "success"
    async with client(faulty, open_to) as c:
        open_order = int((await hold_and_order(c, event_id, seats[2:4]))["orderId"])
    async with client(faulty, buyer_name("holder")) as c:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": seats[6]})
        assert r.status_code == 201
    async with client(faulty, paying_to) as c:
        paying = int((await hold_and_order(c, event_id, seats[4:6]))["orderId"])
        in_flight = asyncio.create_task(authorize(c, paying))

        async def charging() -> bool:
            pays = await payments_of(rt, [paying])
            return bool(pays) and bool(await rt.redis.exists(f"arq:in-progress:pay:{pays[0].id}"))

        await eventually(charging, timeout=20, interval=0.01)
        # Redis dies with the holds, the order locks, the sold mirror and the job queues,
        # and comes back empty on the same port while that payment is being charged.
        faulty.restart_redis_empty()
        restarted = time.monotonic()
        # The provider's steering key went with Redis: approve again before the lost job is
        # retried, or the retry charges at random (80 %) and this test turns into a coin toss.
        await eventually(lambda: _set_mode(rt, "success"), timeout=10, interval=0.05)
        answer = await in_flight
    assert answer.status_code in (200, 202), answer.text

    async with client(faulty, buyer_name("late")) as c:
        # Sold seats were rebuilt from the database: they cannot be held again.
        assert_error(await _hold_status(c, event_id, seats[0:1]), 422, "VALIDATION_FAILED")
        # The open order's lock was rebuilt too: its seats are not for anyone else.
        assert_error(await _hold_status(c, event_id, seats[2:3]), 409, "RESERVATION_CONFLICT")
        # A plain hold was lost with Redis (holds are the only state that lives there alone).
        seat_map = {s["id"]: s["status"] for s in
                    (await c.get(f"/api/events/{event_id}/seats")).json()["seats"]}
    assert seat_map[seats[0]] == seat_map[seats[1]] == "SOLD"
    assert seat_map[seats[6]] == "AVAILABLE"
    await rt.redis.set(MODE_KEY, "success")
    async with client(faulty, open_to) as c:
        assert (await authorize(c, open_order)).json()["status"] == "success"
    # The payment that was running when Redis went away finishes too (its job, or the
    # worker's recovery of PENDING payments whose job was lost with the queue).
    statuses = await wait_all_final(rt, [sold, open_order, paying], restarted + 30)
    assert statuses == {sold: "CONFIRMED", open_order: "CONFIRMED", paying: "CONFIRMED"}
    for name in ("worker", "relay", "consumers", "api"):
        assert faulty.procs[name].running, f"{name} did not survive the Redis restart"
    codes = await snapshot_codes(rt, event_id, seats[:6])
    assert codes == dict.fromkeys(seats[:6], "S")
    await rt.redis.delete(MODE_KEY)
    await assert_audit_clean(rt, event_id)


# ---- the database unreachable --------------------------------------------------------------

async def test_database_cut_off_answers_503_and_writes_nothing_half_way(
    faulty: Stack, rt: Runtime,
) -> None:
    """PostgreSQL only: the cut is made in a TCP proxy between the API and the database.
    SQLite is a file each process opens itself; there is no connection to cut."""
    if is_sqlite(faulty):
        pytest.skip(SQLITE_IS_A_FILE)
    url = make_url(faulty.database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    via_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    # An API process whose database is behind the proxy, pausing 1.5 s between locking the
    # seats in Redis and writing the order, so the cut can land right there.
    api = faulty.start_api("api-proxied", DATABASE_URL=via_proxy,
                           FAULT_INJECT="order.after_lock", FAULT_INJECT_PAUSE_S="1.5")
    event_id, seats = await new_event(rt, 1, 8)
    first, refused, cut_mid = buyer_name("db-ok"), buyer_name("db-down"), buyer_name("db-mid")
    key_refused, key_mid = uuid.uuid4().hex, uuid.uuid4().hex
    try:
        async with client(faulty, first, "api-proxied") as c:
            order_id = int((await hold_and_order(c, event_id, seats[0:2]))["orderId"])
        for buyer, chosen in ((refused, seats[2:4]), (cut_mid, seats[4:6])):
            async with client(faulty, buyer) as c:
                r = await c.post("/api/reservations", json={"eventId": event_id,
                                                            "seatIds": chosen})
                assert r.status_code == 201, r.text
        assert proxy.connections > 0

        # Cut in the middle of an order: seats locked in Redis, the order not yet written.
        async with client(faulty, cut_mid, "api-proxied") as c:
            mid = asyncio.create_task(post_order(c, event_id, seats[4:6], key_mid))

            async def locked() -> bool:
                codes = await snapshot_codes(rt, event_id, seats[4:6])
                return codes == dict.fromkeys(seats[4:6], "O")

            await eventually(locked, timeout=20, interval=0.01)
            proxy.cut()
            assert_unavailable(await mid)
        # While it is down: reads, orders and payments answer 503 with the standard body.
        async with client(faulty, first, "api-proxied") as c:
            assert_unavailable(await c.get(f"/api/orders/{order_id}"))
            assert_unavailable(await authorize(c, order_id))
            ready = await c.get("/actuator/health/readiness")
            assert ready.status_code == 503, ready.text
        async with client(faulty, refused, "api-proxied") as c:
            assert_unavailable(await post_order(c, event_id, seats[2:4], key_refused))
    finally:
        proxy.restore()

    # Nothing half-written: no order, no outbox row, no stored answer for either request;
    # the cut one left only its claim on the key (taken over after IDEMPOTENCY_LEASE_S), and
    # Redis gave the seats back to their buyers as holds.
    async with rt.db.read_sessions() as s:
        stray = (await s.execute(select(func.count()).select_from(Order).where(
            col(Order.buyer_id).in_([refused, cut_mid])))).scalar_one()
        claims = {(r.buyer_id, r.status) for r in (await s.execute(select(IdempotencyRecord)
                  .where(col(IdempotencyRecord.key).in_([key_refused, key_mid])))).scalars()}
    assert stray == 0
    assert claims <= {(cut_mid, "IN_PROGRESS")}
    assert [r.event_type for r in await outbox_rows(rt, event_id)] == ["ORDER_CREATED"]
    assert await snapshot_codes(rt, event_id, seats[2:6]) == dict.fromkeys(seats[2:6], "H")
    snap = await rt.holds.snapshot(event_id)
    assert snap is not None and {snap.states[s].buyer for s in seats[4:6]} == {cut_mid}

    # Back up: the same keys now make their orders, once each.
    try:
        async with client(faulty, refused, "api-proxied") as c:
            async def answered() -> httpx.Response | None:
                r = await post_order(c, event_id, seats[2:4], key_refused)
                return r if r.status_code != 503 else None

            r = await eventually(answered, timeout=20, interval=0.2)
            assert r.status_code == 201, r.text
        async with client(faulty, cut_mid, "api-proxied") as c:
            r = await until_not_in_progress(c, event_id, seats[4:6], key_mid)
            assert r.status_code == 201, r.text
            assert (await post_order(c, event_id, seats[4:6], key_mid)).json() == r.json()
        async with client(faulty, first, "api-proxied") as c:
            assert (await c.get(f"/api/orders/{order_id}")).status_code == 200
    finally:
        api.stop()
        proxy.stop()
    async with rt.db.read_sessions() as s:
        per_buyer = Counter((await s.execute(select(col(Order.buyer_id)).where(
            col(Order.event_id) == event_id))).scalars())
    assert per_buyer == Counter({first: 1, refused: 1, cut_mid: 1})
    await assert_audit_clean(rt, event_id)


@pytest.fixture(autouse=True)
def _stack_whole_again(faulty: Stack) -> Iterator[None]:
    """A failed test must not leave the next one without its processes."""
    yield
    for kind in ("api", "worker", "relay", "consumers"):
        if not faulty.procs[kind].running:
            with contextlib.suppress(Exception):
                restart(faulty, kind)
