"""Scenario 7: CPU per operation. Each step of a purchase (hold, order, pay, release) runs on
its own, and so does the request a stampede is made of (a hold refused: another buyer asks
for a seat that is held), as a closed loop at a fixed concurrency, and every platform
process's CPU time is read before and after (the worker, relay and consumers included, so a
payment is charged for the job, the outbox rows and the consumers it causes). Idle CPU (polls,
timers), measured last, is subtracted.

This is where the time of scenario 2 goes: on a machine that runs everything, the cost of one
user's loop bounds how many users it can serve, whatever the latency target. Correctness:
every call got its expected answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp

from bench.context import BenchContext
from bench.loadgen import CpuSampler
from bench.scenario import Scenario, ScenarioResult, Series
from bench.scenarios.original_load import server_pids
from bench.stacks import PgBackendsCpu, database_name

Call = Callable[[Any], Awaitable[int]]


class Meter:
    """CPU seconds per platform process over a window: each of the stack's processes, the
    PostgreSQL backends serving its database (`postgres`), their sum (`platform`), and the
    whole machine (`machine`: other people's work too on a shared machine)."""

    def __init__(self, pids: dict[str, int], pg: PgBackendsCpu | None = None):
        self.sampler = CpuSampler(pids)
        self.pg = pg

    async def cores(self, action: Callable[[], Awaitable[Any]], settle_s: float
                    ) -> tuple[Any, dict[str, float], float]:
        """Runs `action`, waits `settle_s` for the work it caused; (its result, cores used per
        process over the window, the window in seconds)."""
        if self.pg is not None:
            await asyncio.to_thread(self.pg.start)
        self.sampler.start()
        t0 = time.monotonic()
        out = await action()
        await asyncio.sleep(settle_s)
        used = self.sampler.stop()
        window = time.monotonic() - t0
        if self.pg is not None:
            pg_cores, _ = await asyncio.to_thread(self.pg.stop)
            used["postgres"] = round(pg_cores * (time.monotonic() - t0) / window, 3)
        used["platform"] = round(sum(v for k, v in used.items() if k != "machine"), 3)
        return out, used, window


class RoundTrips:
    """Work counted by the servers themselves, which a noisy neighbour cannot inflate: Redis
    commands by name (INFO commandstats) and PostgreSQL transactions and rows written
    (pg_stat_database, which counts each autocommit statement as a transaction)."""

    def __init__(self, redis: Any, pg_admin_url: str | None, dbname: str):
        self.redis = redis
        self.pg_admin_url = pg_admin_url
        self.dbname = dbname

    async def read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        stats = await self.redis.info("commandstats")
        for name, v in stats.items():
            out["redis:" + name.removeprefix("cmdstat_")] = float(v["calls"])
        if self.pg_admin_url is not None:
            out.update(await asyncio.to_thread(self._pg))
        return out

    def _pg(self) -> dict[str, float]:
        import psycopg

        with psycopg.connect(self.pg_admin_url or "", autocommit=True) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            row = conn.execute(
                "SELECT xact_commit + xact_rollback, tup_inserted, tup_updated, tup_deleted, "
                "tup_fetched FROM pg_stat_database WHERE datname = %s",
                (self.dbname,)).fetchone()
        if row is None:
            return {}
        return dict(zip(("pg:transactions", "pg:inserted", "pg:updated", "pg:deleted",
                         "pg:fetched"), map(float, row), strict=True))


async def closed_loop(items: Sequence[Any], call: Call, concurrency: int
                      ) -> tuple[list[float], list[int]]:
    """Latency (ms) and status of every call, `concurrency` at a time."""
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    statuses: list[int] = []

    async def one(item: Any) -> None:
        async with sem:
            t = time.perf_counter()
            statuses.append(await call(item))
            lat.append((time.perf_counter() - t) * 1000)

    await asyncio.gather(*(one(i) for i in items))
    return lat, statuses


async def run(ctx: BenchContext, params: Mapping[str, Any]) -> ScenarioResult:
    result = ScenarioResult()
    st = await ctx.stack()
    if not st.managed:
        return ScenarioResult.skipped("needs the stack the bench starts (it reads its processes' "
                                      "CPU time)")
    n, conc = int(params["purchases"]), int(params["concurrency"])
    settle = float(params["settle_s"])
    ctx.status("creating the event")
    event_id, seat_ids = await ctx.new_event("CPU cost", 1, 50, max(20, n // 50 + 1),
                                             max_seats_per_buyer=10)
    await st.rt.catalog.snapshot(event_id)
    pg = (PgBackendsCpu(ctx.options.pg_url, database_name(st.database_url))
          if st.backend == "postgres" else None)
    meter = Meter(server_pids(st), pg)
    trips = RoundTrips(st.rt.redis, ctx.options.pg_url.replace("postgresql+asyncpg://",
                                                               "postgresql://")
                       if st.backend == "postgres" else None, database_name(st.database_url))
    counts: dict[str, dict[str, float]] = {}
    await asyncio.sleep(float(params["warmup_s"]))  # a stack just started is still settling
    seats = seat_ids[:n]
    n_orders = int(n * 0.7)
    orders: dict[int, int] = {}

    async with aiohttp.ClientSession(st.api_url, connector=aiohttp.TCPConnector(limit=conc),
                                     json_serialize=json.dumps) as http:

        async def request(method: str, url: str, seat: int, **kw: Any) -> tuple[int, Any]:
            headers = {"X-Caller-Id": f"cost-{event_id}-{seat}", **kw.pop("headers", {})}
            async with http.request(method, url, headers=headers, **kw) as r:
                raw = await r.read()
                return r.status, (json.loads(raw) if raw and r.status != 204 else None)

        async def hold(seat: int) -> int:
            status, _ = await request("POST", "/api/reservations", seat,
                                      json={"eventId": event_id, "seatId": seat,
                                            "holdSeconds": 300})
            return status

        async def refuse(seat: int) -> int:
            status, _ = await request("POST", "/api/reservations", seat,
                                      headers={"X-Caller-Id": f"late-{event_id}-{seat}"},
                                      json={"eventId": event_id, "seatId": seat})
            return status

        async def order(seat: int) -> int:
            status, body = await request(
                "POST", "/api/orders", seat, headers={"Idempotency-Key": uuid.uuid4().hex},
                json={"eventId": event_id, "seatIds": [seat]})
            if status == 201:
                orders[seat] = int(body["orderId"])
            return status

        async def pay(seat: int) -> int:
            status, _ = await request("POST", "/api/payments/authorize", seat,
                                      json={"orderId": orders.get(seat, 0)})
            return status

        async def release(seat: int) -> int:
            status, _ = await request("DELETE", f"/api/reservations/{event_id}/{seat}", seat)
            return status

        steps: list[tuple[str, Sequence[int], Call, set[int]]] = [
            ("hold", seats, hold, {201}),
            ("refusal", seats, refuse, {409}),
            ("order", seats[:n_orders], order, {201}),
            ("pay", seats[:n_orders], pay, {200, 202}),
            ("release", seats[n_orders:], release, {204}),
        ]
        raw: dict[str, tuple[dict[str, float], float, int]] = {}
        for i, (name, items, call, expected) in enumerate(steps):
            ctx.status(f"{name}: {len(items)} calls, {conc} at a time", i / len(steps))

            async def action(items: Sequence[int] = items, call: Call = call
                             ) -> tuple[list[float], list[int]]:
                return await closed_loop(items, call, conc)

            before = await trips.read()
            (lat, statuses), used, window = await meter.cores(action, settle)
            after = await trips.read()
            counts[name] = {k: round((after[k] - before.get(k, 0.0)) / len(items), 2)
                            for k in sorted(after) if after[k] - before.get(k, 0.0) > 0}
            busy = max(1e-9, window - settle)
            result.series.append(Series.of(name, lat, busy, label=f"{name}, {conc} at a time"))
            raw[name] = (used, window, len(items))
            wrong = [s for s in statuses if s not in expected]
            result.check(f"{name}: every call answered {sorted(expected)}", not wrong,
                         f"{len(wrong)} of {len(items)} answered otherwise "
                         f"({sorted(set(wrong))[:5]})")

    # Idle CPU measured last, once everything has drained (right after the stack starts,
    # consumers joining their groups and first connections would count as idle).
    _, idle, idle_s = await meter.cores(lambda: asyncio.sleep(0), float(params["idle_s"]))
    per_op = {name: {proc: round(max(0.0, cores - idle.get(proc, 0.0)) * window * 1000 / count, 2)
                     for proc, cores in used.items()}
              for name, (used, window, count) in raw.items()}
    result.metrics["cpu_ms_per_operation"] = per_op
    # Includes the scenario's own few calls (the counters' reads) and, for PostgreSQL, the
    # statistics other sessions of the bench flush meanwhile: read them as per-operation sizes.
    result.metrics["round_trips_per_operation"] = counts
    result.metrics["idle_cores"] = {k: round(v, 3) for k, v in idle.items()}
    def loop_of(proc: str) -> float:
        """One loop of scenario 2's user: hold, then 70% order and pay, 30% release."""
        m = {k: v.get(proc, 0.0) for k, v in per_op.items()}
        return m["hold"] + 0.7 * (m["order"] + m["pay"]) + 0.3 * m["release"]

    procs = sorted({p for v in per_op.values() for p in v})
    result.metrics["cpu_ms_per_user_loop"] = {p: round(loop_of(p), 2) for p in procs}
    # The platform's own processes and its database's backends: on a shared machine the
    # machine-wide figure counts the neighbours' work too.
    loop_ms = loop_of("platform")
    result.metrics["platform_cpu_ms_per_user_loop"] = round(loop_ms, 2)
    result.metrics["machine_cpu_ms_per_user_loop"] = round(loop_of("machine"), 2)
    cores = float(os.cpu_count() or 1)
    loops_per_s = cores * 1000 / loop_ms if loop_ms else 0.0
    result.metrics["ceiling_on_this_machine"] = (
        f"{cores:.0f} cores / {loop_ms:.1f} ms = {loops_per_s:.0f} user loops/s, about "
        f"{loops_per_s * 2.0:.0f} users thinking 2 s on average, with every core busy "
        "(an upper bound: latency grows long before)")
    result.notes.append(f"idle CPU over {idle_s:.1f} s subtracted per process; 'platform' counts "
                        "the stack's processes and its database's PostgreSQL backends, "
                        "'machine' every process on the machine (neighbours included)")
    return result


SCENARIO = Scenario(
    number=7, name="cpu_cost", title="CPU per operation, per platform process", run=run,
    quick={"purchases": 150, "concurrency": 8, "settle_s": 1.5, "idle_s": 1.5, "warmup_s": 4.0},
    full={"purchases": 1500, "concurrency": 16, "settle_s": 3.0, "idle_s": 3.0, "warmup_s": 2.0},
)
