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

Call = Callable[[Any], Awaitable[int]]


class Meter:
    """CPU seconds per platform process (and the whole machine) over a window."""

    def __init__(self, pids: dict[str, int]):
        self.sampler = CpuSampler(pids)

    async def cores(self, action: Callable[[], Awaitable[Any]], settle_s: float
                    ) -> tuple[Any, dict[str, float], float]:
        """Runs `action`, waits `settle_s` for the work it caused; (its result, cores used per
        process over the window, the window in seconds)."""
        self.sampler.start()
        t0 = time.monotonic()
        out = await action()
        await asyncio.sleep(settle_s)
        return out, self.sampler.stop(), time.monotonic() - t0


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
    meter = Meter(server_pids(st))
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

            (lat, statuses), used, window = await meter.cores(action, settle)
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
    result.metrics["idle_cores"] = {k: round(v, 3) for k, v in idle.items()}
    machine = {k: v.get("machine", 0.0) for k, v in per_op.items()}
    # One loop of scenario 2's user: hold, then 70% order and pay, 30% release.
    loop_ms = machine["hold"] + 0.7 * (machine["order"] + machine["pay"]) + 0.3 * machine[
        "release"]
    cores = float(os.cpu_count() or 1)
    loops_per_s = cores * 1000 / loop_ms if loop_ms else 0.0
    result.metrics["machine_cpu_ms_per_user_loop"] = round(loop_ms, 2)
    result.metrics["ceiling_on_this_machine"] = (
        f"{cores:.0f} cores / {loop_ms:.1f} ms = {loops_per_s:.0f} user loops/s, about "
        f"{loops_per_s * 2.0:.0f} users thinking 2 s on average, with every core busy "
        "(an upper bound: latency grows long before)")
    result.notes.append(f"idle CPU over {idle_s:.1f} s subtracted per process; 'machine' counts "
                        "every process on the machine, PostgreSQL included")
    return result


SCENARIO = Scenario(
    number=7, name="cpu_cost", title="CPU per operation, per platform process", run=run,
    quick={"purchases": 150, "concurrency": 8, "settle_s": 1.5, "idle_s": 1.5, "warmup_s": 4.0},
    full={"purchases": 1500, "concurrency": 16, "settle_s": 3.0, "idle_s": 3.0, "warmup_s": 2.0},
)
