"""Scenario 4: hold strategies side by side, in one run, same load, same machine, same driver
(this process, uvloop): ours (`hold.lua`), the original's (sold check, then SET NX; a baseline
in bench/strategies.py) and a database row lock (PostgreSQL; skipped, and said so, without it).

The load is built so the original's race can show: for every seat, a seller holds it, then
sells it while `contenders` other buyers try to hold the same seat at the same moment (each
retries while the answer is "held by someone else", as a user clicking again would). A
contender's hold that succeeds can only be a hold on a sold seat; the contender then tries to
buy it, and a second sale of one seat is an oversell. Every strategy gets the same seats,
concurrency and contention; throughput is hold calls per second.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from bench.context import BenchContext, create_database, drop_database
from bench.scenario import Scenario, ScenarioResult, Series
from bench.strategies import OriginalBaseline, OursLua, RowLock, Strategy
from bench.synthetic import load_synthetic, own_valkey
from ticketing_app.holds.store import HoldStore

EVENT_ID = 9_200_000


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)
    sales: Counter[int] = field(default_factory=Counter)  # seat -> successful sales
    sold_seat_holds: int = 0
    errors: int = 0
    wall_s: float = 0.0


async def race(strategy: Strategy, seats: list[int], concurrency: int, contenders: int,
               attempts: int) -> Tally:
    tally = Tally()
    group = contenders + 1
    lanes = max(1, concurrency // group)

    async def timed_hold(seat: int, buyer: str, conn: int) -> str:
        t0 = time.perf_counter()
        try:
            answer = await strategy.hold(seat, buyer, conn)
        except Exception:
            tally.errors += 1
            answer = "ERROR"
        tally.latencies.append((time.perf_counter() - t0) * 1000)
        tally.answers[answer] += 1
        return answer

    async def sell(seat: int, buyer: str, conn: int) -> None:
        if await strategy.sell(seat, buyer, conn):
            tally.sales[seat] += 1

    async def contender(seat: int, k: int, conn: int, go: asyncio.Event) -> None:
        await go.wait()
        buyer = f"c{seat}-{k}"
        for _ in range(attempts):
            answer = await timed_hold(seat, buyer, conn)
            if answer == "OK":
                tally.sold_seat_holds += 1  # the seller held it until it sold it
                await sell(seat, buyer, conn)
                return
            if answer != "CONFLICT":
                return

    async def one_seat(seat: int, lane: int) -> None:
        base = lane * group
        seller = f"s{seat}"
        if await timed_hold(seat, seller, base) != "OK":
            return
        go = asyncio.Event()
        racers = [asyncio.create_task(contender(seat, k, base + 1 + k, go))
                  for k in range(contenders)]
        await asyncio.sleep(0)
        go.set()
        await asyncio.gather(sell(seat, seller, base), *racers)

    async def lane_worker(lane: int) -> None:
        for i in range(lane, len(seats), lanes):
            await one_seat(seats[i], lane)

    t0 = time.perf_counter()
    await asyncio.gather(*(lane_worker(lane) for lane in range(lanes)))
    tally.wall_s = time.perf_counter() - t0
    return tally


async def run(ctx: BenchContext, params: Mapping[str, Any]) -> ScenarioResult:
    result = ScenarioResult()
    n, conc = int(params["seats"]), int(params["concurrency"])
    contenders, attempts = int(params["contenders"]), int(params["attempts"])
    tallies: dict[str, tuple[Strategy, Tally]] = {}
    async with own_valkey(max_connections=conc + 10) as (redis, _):
        store = HoldStore(redis)
        await store.scripts.preload(redis)
        strategies: list[Strategy] = []
        seats = await load_synthetic(store, EVENT_ID, n)
        strategies.append(OursLua(store, EVENT_ID))
        strategies.append(OriginalBaseline(redis))
        for i, strategy in enumerate(strategies):
            ctx.status(f"{strategy.name}: {n} seats, {contenders} contenders each",
                       i / (len(strategies) + 1))
            tallies[strategy.name] = (strategy, await race(strategy, seats, conc, contenders,
                                                           attempts))
    if ctx.has_postgres:
        ctx.status("row lock on PostgreSQL", 2 / 3)
        try:
            tallies["row_lock"] = await _row_lock(ctx, n, conc, contenders, attempts)
        except psycopg.OperationalError as exc:  # a shared server out of connection slots
            result.notes.append(f"row lock SKIPPED: PostgreSQL refused {conc} more connections "
                                f"({str(exc).strip().splitlines()[-1][:160]})")
    else:
        result.notes.append(f"row lock (SELECT ... FOR UPDATE) SKIPPED: no PostgreSQL reachable "
                            f"at --pg-url ({ctx.pg_problem})")
    for name, (strategy, t) in tallies.items():
        oversold = sum(1 for v in t.sales.values() if v > 1)
        result.series.append(Series.of(
            name, t.latencies, t.wall_s, t.errors, label=strategy.label,
            answers=dict(t.answers), seats_sold=len(t.sales), sold_seat_holds=t.sold_seat_holds,
            oversold_seats=oversold))
        result.metrics[f"{name}_sold_seat_holds"] = t.sold_seat_holds
        result.metrics[f"{name}_oversold_seats"] = oversold
    ours = next(s for s in result.series if s.name == "ours")
    for s in result.series:
        if s.name != "ours" and s.throughput:
            result.metrics[f"throughput_ours_vs_{s.name}"] = round(ours.throughput / s.throughput,
                                                                   2)
    o = tallies["ours"][1]
    result.check("ours: no hold granted on a sold seat", o.sold_seat_holds == 0,
                 f"{o.sold_seat_holds} sold-seat holds")
    result.check("ours: no seat sold twice", all(v == 1 for v in o.sales.values()),
                 f"{sum(1 for v in o.sales.values() if v > 1)} oversold")
    result.check("ours: every seat sold exactly once to its seller", len(o.sales) == n,
                 f"{len(o.sales)} of {n} seats sold")
    orig = tallies["original"][1]
    result.notes.append(
        f"the original's approach allowed {orig.sold_seat_holds} holds on sold seats and "
        f"{sum(1 for v in orig.sales.values() if v > 1)} oversold seats in {n} races"
        + ("" if orig.sold_seat_holds else " (the race did not show in this run; it needs a "
                                           "check to land between the sale's two steps)"))
    result.metrics.update({"seats": n, "concurrency": conc, "contenders_per_seat": contenders,
                           "attempts_per_contender": attempts})
    return result


async def _row_lock(ctx: BenchContext, n: int, conc: int, contenders: int, attempts: int
                    ) -> tuple[Strategy, Tally]:
    url = create_database(ctx.options.pg_url)
    conns: list[psycopg.AsyncConnection] = []
    try:
        conns = [await psycopg.AsyncConnection.connect(url) for _ in range(conc)]
        seats = list(range(1, n + 1))
        await RowLock.setup(conns[0], seats)
        strategy = RowLock(conns)
        return strategy, await race(strategy, seats, conc, contenders, attempts)
    finally:
        for c in conns:
            await c.close()
        drop_database(ctx.options.pg_url, url)


SCENARIO = Scenario(
    number=4, name="hold_strategies", title="Hold strategies side by side", run=run,
    quick={"seats": 200, "concurrency": 12, "contenders": 3, "attempts": 6},
    full={"seats": 1500, "concurrency": 24, "contenders": 3, "attempts": 6},
    needs_stack=False,
)
