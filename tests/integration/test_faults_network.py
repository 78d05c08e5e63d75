"""A black-holed network: PostgreSQL or Redis stops answering without closing the connection
(packets silently dropped, a middlebox that lost the connection's state), with real processes
(the API, the ARQ worker, the relay, the consumers) that all reach Redis and PostgreSQL through
TCP proxies (`TcpProxy.black_hole()`). The database's is PostgreSQL only: SQLite is a file, not
a peer behind a network. Redis's runs on both database backends.

While the peer is silent, every request that needs it answers `503 SERVICE_UNAVAILABLE` (the
standard body) within a bound, requests that do not need it go on working, and nothing is
written half-way. The black-holed connections stay dead after the network heals (nothing ever
comes back on them, not even a close), so every process has to notice by its own timeouts:
the API, the worker, the relay and the consumers recover, the payment that was being charged
when the network went silent is settled once, and the audit is clean.

The bounds come from the client timeouts (docs/reliability.md, "Timeouts"). On PostgreSQL a
request waits for one statement (DB_COMMAND_TIMEOUT_S, 6 s) and then SQLAlchemy's bounded close
of the dead connection (2 s), or for one connect (DB_CONNECT_TIMEOUT_S, 5 s): 5-8 s measured
here, stated bound 15 s. On Redis it waits for one answer (REDIS_SOCKET_TIMEOUT_S, 3 s) or
connect (REDIS_CONNECT_TIMEOUT_S, 2 s): 3.0-3.1 s measured, stated bound 8 s. Correctness
deadlines with room for a loaded machine, not benchmarks; `pytest -s` prints the times."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
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
    charges,
    client,
    direct_env,
    fault_stack,
    hold_and_order,
    is_sqlite,
    new_event,
    payments_of,
    proxies,
    wait_all_final,
)
from tests.integration.helpers import eventually
from tests.integration.inprocess import stack_settings
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.db.models import IdempotencyRecord, Order, OutboxEvent
from ticketing_app.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.fault]

DB_503_BOUND_S = 15.0  # 2 x DB_COMMAND_TIMEOUT_S (6 s) + slack; measured 5-8 s
REDIS_503_BOUND_S = 8.0  # 2 x REDIS_SOCKET_TIMEOUT_S (3 s) + slack; measured 3.0-3.1 s
# After the heal: a zombie session that kept a row lock is ended by PostgreSQL after
# DB_IDLE_IN_TRANSACTION_TIMEOUT_S (30 s); a payment job may have used up its tries meanwhile
# and is re-enqueued by the worker's recovery. Every open order is final within this.
SETTLE_AFTER_HEAL_S = 60.0


@pytest.fixture(scope="module", params=FAULT_BACKENDS)
def holed(request: pytest.FixtureRequest) -> Iterator[Stack]:
    with fault_stack(str(request.param), proxied=True) as st:
        yield st


@pytest_asyncio.fixture(scope="module")
async def rt(holed: Stack) -> AsyncIterator[Runtime]:
    """The test's own view, around the proxies."""
    runtime = await create_runtime(stack_settings(direct_env(holed)))
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest_asyncio.fixture
async def approving(rt: Runtime) -> AsyncIterator[None]:
    await rt.redis.set(MODE_KEY, "success")
    yield
    await rt.redis.delete(MODE_KEY)


async def timed(call: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    r = await call
    return r, time.monotonic() - start


def assert_503_within(results: dict[str, tuple[httpx.Response, float]], bound: float) -> None:
    """Each answered 503 in less than `bound` seconds (printed: `pytest -s` shows the times)."""
    print("black hole:", ", ".join(f"{n} {r.status_code} in {t:.2f}s"
                                   for n, (r, t) in results.items()))
    for name, (r, took) in results.items():
        assert r.status_code == 503, (name, r.status_code, r.text)
        if not name.startswith("readiness"):  # readiness names the component, not an error
            assert_unavailable(r)
        assert took < bound, f"{name}: 503 after {took:.1f}s, bound {bound}s"


async def answered(call: Callable[[], Awaitable[httpx.Response]], timeout: float,
                   since: float) -> httpx.Response:
    """Retries like a client after a 503 until something else comes back (printed: how long
    after `since`, the heal)."""
    async def attempt() -> httpx.Response | None:
        r = await call()
        return r if r.status_code != 503 else None

    r: httpx.Response = await eventually(attempt, timeout=timeout, interval=0.5)
    print(f"black hole: {r.request.method} {r.request.url.path} answered "
          f"{r.status_code} {time.monotonic() - since:.1f}s after the heal")
    return r


async def charging(rt: Runtime, order_id: int) -> int | None:
    """The payment of the order while the worker runs its job (ARQ's in-progress key)."""
    pays = await payments_of(rt, [order_id])
    if pays and await rt.redis.exists(f"arq:in-progress:pay:{pays[0].id}"):
        return int(pays[0].id or 0)
    return None


async def orders_by_buyer(rt: Runtime, event_id: int) -> Counter[str]:
    async with rt.db.read_sessions() as s:
        return Counter((await s.execute(select(col(Order.buyer_id)).where(
            col(Order.event_id) == event_id))).scalars())


async def assert_recovered(st: Stack, rt: Runtime, event_id: int, paying: int,
                           payment_id: int, healed_at: float) -> None:
    """The payment that was being charged when the network went silent settles once; every
    process survived; the audit is clean."""
    statuses = await wait_all_final(rt, [paying], healed_at + SETTLE_AFTER_HEAL_S)
    print(f"black hole: the caught payment settled {time.monotonic() - healed_at:.1f}s "
          "after the heal (at the latest)")
    assert statuses == {paying: "CONFIRMED"}
    count, verdict = await charges(rt, payment_id)
    assert (count, verdict) == (1, "ok"), (count, verdict)
    assert [p.status for p in await payments_of(rt, [paying])] == ["AUTHORIZED"]
    for name in ("api", "worker", "relay", "consumers"):
        assert st.procs[name].running, f"{name} did not survive the black hole"
    await assert_audit_clean(rt, event_id, timeout=60)


# ---- PostgreSQL black-holed -------------------------------------------------------------------

async def test_postgres_black_holed_answers_503_within_bound_and_recovers(
    holed: Stack, rt: Runtime, approving: None,
) -> None:
    if is_sqlite(holed):
        pytest.skip(SQLITE_IS_A_FILE)
    proxy = proxies(holed).db
    assert isinstance(proxy, TcpProxy)
    event_id, seats = await new_event(rt, 1, 12)
    a, b, c, p = (buyer_name(x) for x in ("pg-a", "pg-b", "pg-c", "pg-pay"))
    key_b = uuid.uuid4().hex
    timeout = DB_503_BOUND_S + 30  # a hang shows as a too-slow answer, not a client error
    async with client(holed, a, timeout=timeout) as ca, \
            client(holed, b, timeout=timeout) as cb, \
            client(holed, c, timeout=timeout) as cc, \
            client(holed, p, timeout=timeout) as cp:
        order_a = int((await hold_and_order(ca, event_id, seats[0:2]))["orderId"])
        r = await cb.post("/api/reservations", json={"eventId": event_id,
                                                     "seatIds": seats[2:4], "holdSeconds": 120})
        assert r.status_code == 201, r.text
        paying = int((await hold_and_order(cp, event_id, seats[4:6]))["orderId"])
        assert (await cc.get(f"/api/events/{event_id}/seats")).status_code == 200
        in_flight = asyncio.create_task(authorize(cp, paying))
        payment_id = int(await eventually(lambda: charging(rt, paying), timeout=20,
                                          interval=0.01))

        proxy.black_hole()  # the worker is in the provider's hands: its commit meets the hole
        # Requests that need the database: 503 within the bound, all at once.
        names = ("order", "read-order", "authorize", "readiness")
        calls = (cb.post("/api/orders", json={"eventId": event_id, "seatIds": seats[2:4]},
                         headers={"Idempotency-Key": key_b}),
                 ca.get(f"/api/orders/{order_a}"),
                 authorize(ca, order_a),
                 ca.get("/actuator/health/readiness"))
        assert_503_within(dict(zip(names, await asyncio.gather(*(timed(x) for x in calls)),
                                   strict=True)), DB_503_BOUND_S)
        # Again, now that the pool's connections are gone: the connect is what times out.
        assert_503_within({"read-order-again": await timed(ca.get(f"/api/orders/{order_a}"))},
                          DB_503_BOUND_S)
        # A hold needs only Redis: it goes on working, and so do liveness and the seat map.
        r, took = await timed(cc.post("/api/reservations", json={
            "eventId": event_id, "seatIds": seats[6:8]}))
        assert r.status_code == 201, r.text
        assert took < DB_503_BOUND_S
        assert (await cc.get("/actuator/health/liveness")).status_code == 200
        seat_map = {x["id"]: x["status"] for x in
                    (await cc.get(f"/api/events/{event_id}/seats")).json()["seats"]}
        assert [seat_map[x] for x in seats[6:8]] == ["HELD", "HELD"]
        assert proxy.swallowed > 0  # new connections were tried, and went nowhere

        proxy.heal()
        healed_at = time.monotonic()
        # Nothing half-written: B's order was refused before anything was written (its key
        # claimed nowhere, its seats still held by B in Redis), A's authorize made no payment.
        async with rt.db.read_sessions() as s:
            claims = list((await s.execute(select(IdempotencyRecord).where(
                col(IdempotencyRecord.key) == key_b))).scalars())
        assert claims == []
        assert await payments_of(rt, [order_a]) == []
        snap = await rt.holds.snapshot(event_id)
        assert snap is not None
        assert {(snap.states[x].code, snap.states[x].buyer) for x in seats[2:4]} == {("H", b)}
        # Back: the same key makes B's order; A pays; the payment caught by the black hole
        # ends settled once (its job retried, or re-enqueued by the worker's recovery).
        r = await answered(lambda: cb.post(
            "/api/orders", json={"eventId": event_id, "seatIds": seats[2:4]},
            headers={"Idempotency-Key": key_b}), timeout=30, since=healed_at)
        assert r.status_code == 201, r.text
        assert (await authorize(ca, order_a)).json()["status"] in ("success", "pending")
        first = await in_flight
        assert first.status_code in (200, 202, 503), first.text
    await wait_all_final(rt, [order_a], healed_at + SETTLE_AFTER_HEAL_S)
    assert await orders_by_buyer(rt, event_id) == Counter({a: 1, b: 1, p: 1})
    await assert_recovered(holed, rt, event_id, paying, payment_id, healed_at)
    async with rt.db.read_sessions() as s:
        created = Counter((await s.execute(select(col(OutboxEvent.event_type)).where(
            col(OutboxEvent.partition_key) == str(event_id)))).scalars())
    assert created["ORDER_CREATED"] == 3 and created["ORDER_CONFIRMED"] == 2


# ---- Redis black-holed ------------------------------------------------------------------------

async def test_redis_black_holed_answers_503_within_bound_and_recovers(
    holed: Stack, rt: Runtime, approving: None,
) -> None:
    proxy = proxies(holed).redis
    event_id, seats = await new_event(rt, 1, 12)
    a, b, c, p = (buyer_name(x) for x in ("rd-a", "rd-b", "rd-c", "rd-pay"))
    key_b = uuid.uuid4().hex
    timeout = REDIS_503_BOUND_S + 30
    async with client(holed, a, timeout=timeout) as ca, \
            client(holed, b, timeout=timeout) as cb, \
            client(holed, c, timeout=timeout) as cc, \
            client(holed, p, timeout=timeout) as cp:
        order_a = int((await hold_and_order(ca, event_id, seats[0:2]))["orderId"])
        r = await cb.post("/api/reservations", json={"eventId": event_id,
                                                     "seatIds": seats[2:4], "holdSeconds": 120})
        assert r.status_code == 201, r.text
        paying = int((await hold_and_order(cp, event_id, seats[4:6]))["orderId"])
        in_flight = asyncio.create_task(authorize(cp, paying))
        payment_id = int(await eventually(lambda: charging(rt, paying), timeout=20,
                                          interval=0.01))

        proxy.black_hole()
        # Requests that need Redis: 503 within the bound, all at once.
        names = ("hold", "order", "release", "readiness")
        calls = (cc.post("/api/reservations", json={"eventId": event_id, "seatIds": seats[6:8]}),
                 cb.post("/api/orders", json={"eventId": event_id, "seatIds": seats[2:4]},
                         headers={"Idempotency-Key": key_b}),
                 cb.delete(f"/api/reservations/{event_id}/{seats[3]}"),
                 ca.get("/actuator/health/readiness"))
        assert_503_within(dict(zip(names, await asyncio.gather(*(timed(x) for x in calls)),
                                   strict=True)), REDIS_503_BOUND_S)
        assert_503_within({"hold-again": await timed(cc.post("/api/reservations", json={
            "eventId": event_id, "seatIds": seats[6:8]}))}, REDIS_503_BOUND_S)
        # Reading an order needs only the database: it goes on working, and so does liveness.
        r, took = await timed(ca.get(f"/api/orders/{order_a}"))
        assert r.status_code == 200 and r.json()["status"] == "CREATED", r.text
        assert took < REDIS_503_BOUND_S
        assert (await ca.get("/actuator/health/liveness")).status_code == 200
        assert proxy.swallowed > 0

        proxy.heal()
        healed_at = time.monotonic()
        # Nothing half-written: B's order left no order and no claim behind; the seats are
        # still B's holds (the lock went into the hole and never reached Redis), C holds none.
        async with rt.db.read_sessions() as s:
            claims = list((await s.execute(select(IdempotencyRecord).where(
                col(IdempotencyRecord.key) == key_b))).scalars())
        assert [x.status for x in claims] in ([], ["IN_PROGRESS"]), claims
        snap = await rt.holds.snapshot(event_id)
        assert snap is not None
        assert {(snap.states[x].code, snap.states[x].buyer) for x in seats[2:4]} == {("H", b)}
        assert all(x not in snap.states for x in seats[6:8])
        # Back: C holds, B orders with the same key, A pays and is told the outcome at once
        # (the API's payment waiter listens again).
        r = await answered(lambda: cc.post("/api/reservations", json={
            "eventId": event_id, "seatIds": seats[6:8]}), timeout=30, since=healed_at)
        assert r.status_code == 201, r.text
        r = await answered(lambda: cb.post(
            "/api/orders", json={"eventId": event_id, "seatIds": seats[2:4]},
            headers={"Idempotency-Key": key_b}), timeout=30, since=healed_at)
        assert r.status_code == 201, r.text
        r = await answered(lambda: authorize(ca, order_a), timeout=30, since=healed_at)
        assert r.status_code == 200 and r.json()["status"] == "success", r.text
        first = await in_flight
        assert first.status_code in (200, 202, 503), first.text
    assert await orders_by_buyer(rt, event_id) == Counter({a: 1, b: 1, p: 1})
    await assert_recovered(holed, rt, event_id, paying, payment_id, healed_at)

