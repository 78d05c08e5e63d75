"""Scenario 10: what one round trip costs here. Scenario 7 says how many milliseconds a
purchase takes in each process; this one prices the units those milliseconds are made of, on
the same machine in the same run, so a loop's CPU can be read as (PostgreSQL transactions x
their price) + (statements x theirs) + (Redis round trips x theirs) + the rest.

Each unit runs `n` times in a row from this process (uvloop), and the CPU of this process and
of the server it talks to (the PostgreSQL backend, read from /proc; the private Valkey) is
read before and after: microseconds of CPU per unit, client and server apart.

PostgreSQL units, on a scratch table of a fresh database:
- a statement inside an open transaction (the ORM session, as the services write);
- a transaction of one statement through the ORM session (`UnitOfWork`'s shape: BEGIN, the
  statement, COMMIT) and the same through `Database.write_one` (autocommit: one round trip);
- group commit's ceiling (issue 14): `group` writes as as many transactions, as one
  transaction (the ideal: nothing keeps one request's write apart from another's), and as one
  transaction with a SAVEPOINT per write (what a group commit of independent requests needs,
  so that one request's failed statement does not abort the others').

Redis units, on a private Valkey: a GET, arq's own `enqueue_job` (WATCH, EXISTS,
MULTI...EXEC) and the one-script enqueue the product uses (`clients/arq_lua/enqueue.lua`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import text

from bench.context import BenchContext, create_database, drop_database
from bench.scenario import Scenario, ScenarioResult, Series
from bench.synthetic import own_valkey
from ticketing_app.clients.job_queue import deserialize, enqueue, serialize
from ticketing_app.db.engine import Database
from ticketing_app.db.engine import create_database as open_database
from ticketing_app.settings import get_settings, to_async_url

Unit = Callable[[], Awaitable[Any]]
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / TICK


async def price(name: str, unit: Unit, n: int, server_pid: int, per: int = 1
                ) -> tuple[Series, dict[str, float]]:
    """Runs `unit` n times (after a warm-up); µs of CPU per 1/`per` of a unit, client and
    server, and the wall time of each as latencies."""
    for _ in range(max(20, n // 10)):
        await unit()
    lat: list[float] = []
    c0, s0, w0 = time.process_time(), proc_cpu_s(server_pid), time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        await unit()
        lat.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - w0
    k = 1e6 / (n * per)
    cost = {"client_us": round((time.process_time() - c0) * k, 1),
            "server_us": round((proc_cpu_s(server_pid) - s0) * k, 1)}
    cost["total_us"] = round(cost["client_us"] + cost["server_us"], 1)
    series = Series.of(name, lat, wall, label=name)
    series.extra.update(cost)
    return series, cost


async def _postgres_units(db: Database, n: int, group: int
                          ) -> list[tuple[str, Unit, int]]:
    async with db.writer.begin() as c:
        await c.execute(text("CREATE TABLE unit_rows (id int PRIMARY KEY, v bigint NOT NULL)"))
        await c.execute(text("INSERT INTO unit_rows SELECT g, 0 FROM generate_series(1, 64) g"))
    bump = text("UPDATE unit_rows SET v = v + 1 WHERE id = :id")
    session = db.write_sessions()  # checks its connection out at its first statement

    async def in_open_tx() -> None:
        await session.execute(bump, {"id": 1})

    async def orm_tx() -> None:
        async with db.write_sessions() as s:
            await s.execute(bump, {"id": 2})
            await s.commit()

    async def write_one() -> None:
        await db.write_one(bump, {"id": 3})

    async def many_tx() -> None:
        for i in range(group):
            async with db.write_sessions() as s:
                await s.execute(bump, {"id": 10 + i})
                await s.commit()

    async def one_tx() -> None:
        async with db.write_sessions() as s:
            for i in range(group):
                await s.execute(bump, {"id": 10 + i})
            await s.commit()

    async def savepoints() -> None:
        async with db.write_sessions() as s:
            for i in range(group):
                async with s.begin_nested():
                    await s.execute(bump, {"id": 10 + i})
            await s.commit()

    async def close_open_tx() -> None:
        await session.commit()
        await session.close()

    # One connection serves them all, one after another (its backend is the one measured);
    # the open transaction comes last, when nothing else needs the connection.
    return [("pg: a transaction of one statement (ORM session)", orm_tx, 1),
            ("pg: the same, Database.write_one (autocommit)", write_one, 1),
            (f"pg: {group} writes as {group} transactions, per write", many_tx, group),
            (f"pg: {group} writes in one transaction, per write", one_tx, group),
            (f"pg: {group} writes in one transaction with a savepoint each, per write",
             savepoints, group),
            ("pg: a statement in an open transaction", in_open_tx, 1),
            ("", close_open_tx, 0)]


async def run(ctx: BenchContext, params: Mapping[str, Any]) -> ScenarioResult:
    result = ScenarioResult()
    n, group = int(params["n"]), int(params["group"])
    admin_url = ctx.options.pg_url
    url = await asyncio.to_thread(create_database, admin_url)
    db = open_database(to_async_url(url), pool_size=2, settings=get_settings())
    costs: dict[str, dict[str, float]] = {}
    try:
        async with db.writer.connect() as c:  # the pool's one connection: its backend's pid
            backend = int((await c.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        units = await _postgres_units(db, n, group)
        for i, (name, unit, per) in enumerate(units):
            if not per:
                await unit()
                continue
            ctx.status(name, i / (len(units) + 3))
            series, costs[name] = await price(name, unit, n // per if per > 1 else n,
                                              backend, per)
            result.series.append(series)
        async with db.reader.connect() as c:
            total = int((await c.execute(text("SELECT sum(v) FROM unit_rows"))).scalar_one())
        result.check("every PostgreSQL write committed once", total == _writes(units, n),
                     f"{total} increments for {_writes(units, n)} writes")
    finally:
        await db.dispose()
        await asyncio.to_thread(drop_database, admin_url, url)
    async with own_valkey() as (redis, valkey_pid):
        arq = ArqRedis(redis.connection_pool, job_serializer=serialize,
                       job_deserializer=deserialize)
        ids = iter(range(10**9))

        async def get() -> None:
            await redis.get("unit")

        async def arq_enqueue() -> None:
            await arq.enqueue_job("unit", _job_id=f"a{next(ids)}", _queue_name="unit:a")

        async def script_enqueue() -> None:
            await enqueue(arq, "unit", (), f"s{next(ids)}", "unit:s")

        for name, unit in (("redis: a GET", get), ("redis: arq's enqueue_job", arq_enqueue),
                           ("redis: enqueue.lua", script_enqueue)):
            ctx.status(name)
            series, costs[name] = await price(name, unit, n, valkey_pid)
            result.series.append(series)
        queued = int(await redis.zcard("unit:a")) + int(await redis.zcard("unit:s"))
        result.check("every enqueue queued its job once", queued == 2 * (n + max(20, n // 10)),
                     f"{queued} jobs queued")
    result.metrics["cpu_us_per_unit"] = costs
    one = costs["pg: a transaction of one statement (ORM session)"]["total_us"]
    auto = costs["pg: the same, Database.write_one (autocommit)"]["total_us"]
    g = [costs[k]["total_us"] for k in costs if k.startswith(f"pg: {group} writes")]
    result.notes.append(
        f"a one-statement transaction costs {one:.0f} µs of CPU through the ORM session and "
        f"{auto:.0f} µs sent in autocommit; per write, {group} writes cost {g[0]:.0f} µs as "
        f"separate transactions, {g[1]:.0f} µs in one, {g[2]:.0f} µs in one with savepoints "
        "(group commit's ceiling)")
    return result


def _writes(units: list[tuple[str, Unit, int]], n: int) -> int:
    """Increments the PostgreSQL units made, warm-ups included."""
    total = 0
    for _, _, per in units:
        if per:
            runs = n // per if per > 1 else n
            total += (runs + max(20, runs // 10)) * per
    return total


SCENARIO = Scenario(
    number=10, name="unit_costs", title="What a PostgreSQL and a Redis round trip cost here",
    run=run, quick={"n": 300, "group": 16}, full={"n": 3000, "group": 16},
    needs_postgres=True, needs_stack=False,
)
