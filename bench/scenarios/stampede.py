"""Scenario 3: the stampede. 1000 distinct buyers on open keep-alive connections, released at
one instant (a wall-clock barrier across the load processes, then an in-process event), buyer
i asking the REST API for seat i mod 100 of a 100-seat event.

Correct means: exactly one winner per seat (100 in all), every other answer a clean 409
(`RESERVATION_CONFLICT`, the standard error body, its traceId equal to the Trace-Id header),
and Redis holding each seat for its winner.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from bench import http
from bench.context import BenchContext
from bench.loadgen import Recorder, Samples, run_processes, split
from bench.scenario import Scenario, ScenarioResult, Series
from bench.scenarios.original_load import server_pids

ENDPOINT = "POST /api/reservations"


async def stampede_job(params: dict[str, Any], rec: Recorder) -> dict[str, Any]:
    """Load process: open one connection per buyer, wait for the instant, fire."""
    lo, hi = params["buyers"]
    seats: list[int] = params["seats"]
    n = hi - lo
    go = asyncio.Event()
    async with http.session(params["api_url"], n, timeout_s=30) as client:
        # Open every connection first, so the race is between requests, not handshakes.
        warm = await asyncio.gather(*(client.get("/actuator/health/liveness") for _ in range(n)),
                                    return_exceptions=True)
        for r in warm:
            if not isinstance(r, BaseException):
                r.release()
        answers: list[dict[str, Any]] = []

        async def buyer(i: int) -> None:
            seat = seats[i % len(seats)]
            await go.wait()
            reply = await http.call(rec, client, ENDPOINT, "POST", "/api/reservations",
                                    json={"eventId": params["event_id"], "seatId": seat},
                                    headers={"X-Caller-Id": f"{params['prefix']}-{i}"})
            answers.append({"i": i, "seat": seat, "status": reply.status, "body": reply.body,
                            "trace": reply.trace_id})

        tasks = [asyncio.create_task(buyer(i)) for i in range(lo, hi)]
        await asyncio.sleep(max(0.0, params["release_at"] - time.time()))
        released = time.time()
        go.set()
        await asyncio.gather(*tasks)
        finished = time.time()
    return {"answers": answers, "released": released, "finished": finished}


def clean_conflict(a: dict[str, Any]) -> bool:
    b = a["body"]
    return (a["status"] == 409 and isinstance(b, dict) and b.get("code") == "RESERVATION_CONFLICT"
            and bool(b.get("message")) and len(b.get("traceId", "")) == 32
            and b.get("traceId") == a["trace"])


async def run(ctx: BenchContext, params: Mapping[str, Any]) -> ScenarioResult:
    result = ScenarioResult()
    st = await ctx.stack()
    buyers, n_seats, rounds = int(params["buyers"]), int(params["seats"]), int(params["rounds"])
    procs = int(params["processes"])
    lat_all: list[float] = []
    errors = 0
    spans: list[float] = []
    for rnd in range(rounds):
        ctx.status(f"round {rnd + 1}/{rounds}: {buyers} buyers on {n_seats} seats",
                   rnd / rounds)
        event_id, seat_ids = await ctx.new_event("Stampede", 1, n_seats // 10, 10,
                                                 max_seats_per_buyer=10)
        seats = seat_ids[:n_seats]
        await st.rt.catalog.snapshot(event_id)  # Redis state loaded before the race
        release_at = time.time() + 2.5 + procs
        run_res = await run_processes("bench.scenarios.stampede:stampede_job", [
            {"api_url": st.api_url, "event_id": event_id, "seats": seats, "buyers": rng,
             "prefix": f"stampede{rnd}", "release_at": release_at, "endpoints": [ENDPOINT]}
            for rng in split(buyers, procs)], server_pids=server_pids(st))
        answers = [a for p in run_res.procs for a in p.info["answers"]]
        released = min(p.info["released"] for p in run_res.procs)
        finished = max(p.info["finished"] for p in run_res.procs)
        spans.append(finished - released)
        lat_all.extend(run_res.samples.lat.tolist())
        errors += int(Samples.is_error(run_res.samples.status).sum())
        winners = [a for a in answers if a["status"] == 201]
        per_seat = Counter(a["seat"] for a in winners)
        losers = [a for a in answers if a["status"] != 201]
        unclean = [a for a in losers if not clean_conflict(a)]
        codes = Counter(str(a["status"]) for a in answers)
        tag = f"round {rnd + 1}: "
        result.check(tag + f"exactly {n_seats} winners, one per seat",
                     len(winners) == n_seats and set(per_seat) == set(seats)
                     and set(per_seat.values()) == {1},
                     f"{len(winners)} winners on {len(per_seat)} seats; answers {dict(codes)}")
        result.check(tag + "every other answer a clean 409 RESERVATION_CONFLICT",
                     len(answers) == buyers and not unclean,
                     f"{len(unclean)} not clean" + (f", e.g. {unclean[0]['status']} "
                                                    f"{unclean[0]['body']}" if unclean else ""))
        snap = await st.rt.holds.snapshot(event_id)
        held = {sid: s.buyer for sid, s in (snap.states.items() if snap else []) if s.code == "H"}
        expected = {a["seat"]: f"stampede{rnd}-{a['i']}" for a in winners}
        result.check(tag + "Redis holds each seat for its winner", held == expected,
                     f"{len(held)} seats held in Redis")
        if run_res.other_load > 0.3:
            result.notes.append(tag + f"other work on the machine used {run_res.other_load} "
                                "cores during the race")
        if run_res.client_saturated:
            result.notes.append(tag + run_res.client_note())
    span = max(spans)
    result.series.append(Series.of("hold", lat_all, sum(spans), errors,
                                   label=f"hold, {buyers} at once"))
    result.metrics.update({"buyers_per_round": buyers, "seats": n_seats, "rounds": rounds,
                           "last_answer_after_ms": round(span * 1000, 1),
                           "answers_per_s": round(buyers * rounds / sum(spans), 1)})
    result.notes.append(f"all {buyers} answers within {span * 1000:.0f} ms of the release "
                        "(worst round)")
    return result


SCENARIO = Scenario(
    number=3, name="stampede", title="Stampede: 1000 buyers, 100 seats, one instant", run=run,
    quick={"buyers": 1000, "seats": 100, "rounds": 1, "processes": 2},
    full={"buyers": 1000, "seats": 100, "rounds": 3, "processes": 2},
)
