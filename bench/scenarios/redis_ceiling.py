"""Scenario 1: the Redis ceiling. The real `hold.lua` through `HoldStore`, driven from one
Python process (this one, on uvloop) against a private Valkey: the per-core reference the
API's hold path is compared with.

Each coroutine holds fresh seats, one per call, for a distinct buyer, so every call does the
full work of a successful hold (checks, write, index, version bump, PUBLISH). Several
concurrency levels; the best is the ceiling.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping
from typing import Any

from bench.context import BenchContext
from bench.loadgen import CpuSampler
from bench.scenario import Scenario, ScenarioResult, Series
from bench.synthetic import load_synthetic, own_valkey
from ticketing_app.holds.store import HoldStore

EVENT_BASE = 9_100_000


async def _level(ctx: BenchContext, store: HoldStore, event_id: int, seats: list[int],
                 concurrency: int, duration_s: float, valkey_pid: int
                 ) -> tuple[Series, dict[int, str], dict[str, Any]]:
    counter = itertools.count()
    granted: dict[int, str] = {}
    lat: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + duration_s

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            n = next(counter)
            if n >= len(seats):
                return
            seat, buyer = seats[n], f"c{concurrency}-{n}"
            t0 = time.perf_counter()
            try:
                await store.hold(event_id, buyer, "t", [seat], 30)
            except Exception:
                errors += 1
                continue
            finally:
                lat.append((time.perf_counter() - t0) * 1000)
            granted[seat] = buyer

    sampler = CpuSampler({"valkey": valkey_pid})
    sampler.start()
    c0, w0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - w0
    cpu = {"client_cpu_cores": round((time.process_time() - c0) / wall, 3),
           **_cores(sampler.stop(), time.process_time() - c0, wall)}
    series = Series.of(f"c{concurrency}", lat, wall, errors,
                       label=f"hold.lua, {concurrency} coroutines", concurrency=concurrency, **cpu)
    return series, granted, cpu


def _cores(sampled: dict[str, float], client_cpu_s: float, wall: float) -> dict[str, float]:
    valkey = sampled.get("valkey", 0.0)
    other = sampled.get("machine", 0.0) - valkey - client_cpu_s / wall
    return {"valkey_cpu_cores": valkey, "other_load_cores": round(max(0.0, other), 2)}


async def run(ctx: BenchContext, params: Mapping[str, Any]) -> ScenarioResult:
    result = ScenarioResult()
    levels: list[int] = list(params["concurrency"])
    duration = float(params["duration_s"])
    async with own_valkey(max_connections=max(levels) + 10) as (redis, valkey_pid):
        store = HoldStore(redis)
        await store.scripts.preload(redis)
        for i, c in enumerate(levels):
            ctx.status(f"{c} coroutines, {duration:.0f} s", i / len(levels))
            event_id = EVENT_BASE + i
            seats = await load_synthetic(store, event_id, int(params["seats"]))
            series, granted, _ = await _level(ctx, store, event_id, seats, c, duration,
                                              valkey_pid)
            result.series.append(series)
            snap = await store.snapshot(event_id)
            held = {sid: st.buyer for sid, st in (snap.states.items() if snap else [])
                    if st.code == "H"}
            result.check(f"{c} coroutines: Redis holds exactly the seats granted, each by its "
                         "buyer", held == granted,
                         f"{len(granted)} granted, {len(held)} held in Redis")
            result.check(f"{c} coroutines: no failed call", series.errors == 0,
                         f"{series.errors} errors")
            if series.count >= len(seats):
                result.notes.append(f"{c} coroutines ran out of seats before the time was up")
    best = max(result.series, key=lambda s: s.throughput)
    result.metrics.update({
        "ceiling_holds_per_s": round(best.throughput, 1),
        "ceiling_concurrency": best.extra["concurrency"],
        "ceiling_p95_ms": round(best.pct(95), 3),
        "valkey_cpu_cores_at_ceiling": best.extra["valkey_cpu_cores"],
        "client_cpu_cores_at_ceiling": best.extra["client_cpu_cores"],
        "other_load_cores": best.extra["other_load_cores"],
    })
    ctx.shared["redis_ceiling_holds_per_s"] = best.throughput
    busier = ("the Python client" if best.extra["client_cpu_cores"] >
              best.extra["valkey_cpu_cores"] else "Valkey")
    result.notes.append(
        f"ceiling {best.throughput:,.0f} holds/s at {best.extra['concurrency']} coroutines; "
        f"Valkey used {best.extra['valkey_cpu_cores']:.2f} of a core, the Python client "
        f"{best.extra['client_cpu_cores']:.2f}: {busier} is the busier side")
    return result


SCENARIO = Scenario(
    number=1, name="redis_ceiling", title="Redis ceiling: hold.lua from one Python process",
    run=run,
    quick={"concurrency": [50], "duration_s": 2.0, "seats": 40_000},
    full={"concurrency": [1, 10, 50, 100], "duration_s": 6.0, "seats": 80_000},
    needs_stack=False,
)
