"""Scenario 5: live-sync fan-out. N real websocket sessions of the Reflex app (the Socket.IO
protocol a browser speaks, see bench/live_client.py) watch one event; seats change one at a
time; for each change, the time until each session received it.

A session "received" change v when it shows a seat map of version v or later (a burst may be
coalesced into one broadcast); its latency is that arrival minus the moment the change was made
(just before the hold call). Every N runs twice: with the sessions in this process, and with
them in a second process (the load generator off the bench's own event loop).

The reference, in the same run: after each change, the web process emits that change's
broadcast once more, bare, to the same room (`POST /api/live/reference/{id}`, on with
LIVE_SYNC_REFERENCE: no Redis, mirror or hub work before it, the same payload under names no
page reads), timed from just before the request to each session's receipt. The product's p95
is reported as a ratio of the reference's, so a busy machine slows both alike.

Correct means: every session received every change (and every reference broadcast), and every
session ends showing exactly the seat map Redis holds.

The SSE variant (clients of the original's seat stream) is in live_sync_sse.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import httpx
import numpy as np

from bench.context import BenchContext, RunningStack
from bench.live_client import LiveSession, Protocol, true_codes
from bench.loadgen import Recorder, run_processes
from bench.scenario import Scenario, ScenarioResult, Series
from bench.scenarios import live_sync_sse as sse
from bench.scenarios.original_load import server_pids

BUYER = "bench-live"
CONNECT_BATCH = 50


async def _connect_all(url: str, event_id: int, proto: Protocol, n: int,
                       http: aiohttp.ClientSession) -> list[LiveSession]:
    sessions = [LiveSession(url, event_id, proto) for _ in range(n)]
    for i in range(0, n, CONNECT_BATCH):
        await asyncio.gather(*(s.connect(http, timeout=120) for s in sessions[i:i + CONNECT_BATCH]))
    await asyncio.gather(*(s.wait_for(lambda x: bool(x.codes), 60) for s in sessions))
    return sessions


async def sessions_job(params: dict[str, Any], rec: Recorder) -> dict[str, Any]:
    """Load process: open the sessions, report how many are hydrated, wait for the last
    version and reference, return what arrived when."""
    proto = Protocol(**params["proto"])
    n, final_version = int(params["sessions"]), int(params["final_version"])
    refs = int(params.get("refs", 0))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        sessions = await _connect_all(params["url"], params["event_id"], proto, n, http)
        gc.freeze()  # the sessions live to the end: no full collector passes over them
        deadline = time.monotonic() + float(params["timeout_s"])
        while time.monotonic() < deadline:
            rec.progress(ready=n)
            if all(s.version >= final_version and len(s.refs) >= refs for s in sessions):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # a late duplicate broadcast changes nothing, but let it in
        out = [_outcome(s) for s in sessions]
        await asyncio.gather(*(s.close() for s in sessions))
    return {"sessions": out}


def _outcome(s: LiveSession) -> dict[str, Any]:
    return {"arrivals": s.arrivals, "refs": s.refs, "codes": s.codes, "errors": s.errors,
            "resyncs": s.resyncs}


class Reference:
    """A bare room broadcast of the same change, through the web process: python-socketio's
    own room emit (`stock`), or the hub's fan-out (`room_emit`) with nothing before it. The
    url is None when the deployment under test does not offer it."""

    def __init__(self, url: str | None, stock: bool, first_seq: int):
        self.url, self.stock, self.first_seq = url, stock, first_seq
        self.sent: list[tuple[int, float]] = []  # (seq, time just before the request)

    async def emit(self, event_id: int) -> None:
        if self.url is None:
            return
        seq = self.first_seq + len(self.sent)
        async with httpx.AsyncClient(timeout=10) as c:
            t0 = time.time()
            r = await c.post(f"{self.url}/api/live/reference/{event_id}",
                             params={"seq": seq, "stock": str(self.stock).lower()})
        r.raise_for_status()
        self.sent.append((seq, t0))


async def warm_up(st: RunningStack, event_id: int, seat: int, settle_s: float = 1.0) -> None:
    """One untimed change first (the event's first broadcast carries the whole map), then a
    moment for the web process to finish with the sessions that just connected."""
    await st.rt.reservations.hold(BUYER, event_id, [seat], None)
    await asyncio.sleep(settle_s)


async def _changes(st: RunningStack, event_id: int, seats: list[int], gap_s: float,
                   refs: list[Reference]) -> list[tuple[int, float]]:
    """Hold one seat at a time, each followed by its reference broadcasts, evenly spaced;
    returns (version, time the change was made)."""
    made = []
    step = gap_s / (len(refs) + 1)
    for seat in seats:
        t0 = time.time()
        held = await st.rt.reservations.hold(BUYER, event_id, [seat], None)
        made.append((held.version, t0))
        for ref in refs:
            await asyncio.sleep(step)
            await ref.emit(event_id)
        await asyncio.sleep(step)
    return made


def latencies(made: list[tuple[int, float]], arrivals: Mapping[int, float]
              ) -> tuple[list[float], int]:
    """Per change, ms until this session saw that version or a later one; and how many
    changes it never saw."""
    out, missed = [], 0
    versions = sorted(arrivals)
    for version, t0 in made:
        seen = [arrivals[v] for v in versions if v >= version]
        if not seen:
            missed += 1
            continue
        out.append(max(0.0, (min(seen) - t0) * 1000))
    return out, missed


async def _one(ctx: BenchContext, st: RunningStack, url: str, proto: Protocol, n: int,
               changes: int, gap_s: float, second_process: bool, result: ScenarioResult,
               ref_url: str | None) -> None:
    where = "second process" if second_process else "same process"
    event_id, seats = await ctx.new_event("Live sync", 1, max(2, changes // 10 + 1), 10,
                                          max_seats_per_buyer=changes + 1, hold_default_s=120,
                                          hold_max_s=120)
    v0 = (await st.rt.catalog.snapshot(event_id)).version + 1  # after the warm-up change
    targets = seats[:changes]
    references = [Reference(ref_url, stock=True, first_seq=1),
                  Reference(ref_url, stock=False, first_seq=1_000_001)]
    refs = changes * len(references) if ref_url else 0
    ctx.status(f"{n} sessions ({where}): connecting")
    per_session: list[dict[str, Any]] = []
    made: list[tuple[int, float]] = []
    if second_process:
        ready = asyncio.Event()

        def progress(p: dict[int, dict[str, Any]]) -> None:
            if p.get(0, {}).get("ready") == n:
                ready.set()

        job = asyncio.create_task(run_processes(
            "bench.scenarios.live_sync:sessions_job",
            [{"url": url, "event_id": event_id, "proto": proto.as_dict(), "sessions": n,
              "final_version": v0 + changes, "refs": refs,
              "timeout_s": 60 + changes * gap_s * 4}],
            on_progress=progress, start_delay=0.2, timeout=600,
            server_pids=server_pids(st)))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({job, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.is_set():
            waiter.cancel()
            await job  # raises what the load process reported
            raise RuntimeError("the load process ended before its sessions were ready")
        ctx.status(f"{n} sessions ({where}): {changes} changes")
        await warm_up(st, event_id, seats[changes])
        made = await _changes(st, event_id, targets, gap_s, references)
        run_res = await job
        per_session = run_res.procs[0].info["sessions"]
        client_cpu = run_res.client_cpu[0]
        result.metrics[f"cores_used_n{n}_proc"] = run_res.server_cpu  # platform, machine
    else:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            sessions = await _connect_all(url, event_id, proto, n, http)
            ctx.status(f"{n} sessions ({where}): {changes} changes")
            await warm_up(st, event_id, seats[changes])
            c0 = time.process_time()
            w0 = time.monotonic()
            made = await _changes(st, event_id, targets, gap_s, references)
            for s in sessions:
                await s.wait_for(lambda x: x.version >= v0 + changes and len(x.refs) >= refs,
                                 30)
            await asyncio.sleep(0.5)
            client_cpu = round((time.process_time() - c0) / (time.monotonic() - w0), 3)
            per_session = [_outcome(s) for s in sessions]
            await asyncio.gather(*(s.close() for s in sessions))
    truth = await true_codes(st.rt, event_id)
    lat: list[float] = []
    missed = wrong = 0
    errors = [e for one in per_session for e in one["errors"]]
    for one in per_session:
        arrivals = {int(v): float(t) for v, t in one["arrivals"].items()}
        got, miss = latencies(made, arrivals)
        lat.extend(got)
        missed += miss
        wrong += one["codes"] != truth
    tag = "proc" if second_process else "same"
    label = f"N={n}, {where}"
    result.series.append(Series.of(f"n{n}-{tag}", lat, changes * gap_s, errors=missed,
                                   label=label, sessions=n, changes=changes,
                                   client_cpu=client_cpu))
    result.check(f"{label}: every session received every change",
                 missed == 0 and len(per_session) == n and not errors,
                 f"{missed} of {n * changes} deliveries missing; {len(errors)} protocol errors")
    result.check(f"{label}: every session shows the true seat map", wrong == 0,
                 f"{wrong} of {n} sessions differ from Redis")
    result.metrics[f"resyncs_n{n}_{tag}"] = sum(int(one.get("resyncs", 0))
                                                for one in per_session)
    if lat:
        result.metrics[f"p95_ms_n{n}_{tag}"] = round(float(np.percentile(lat, 95)), 1)
        # Per change (a slow moment of a shared machine shows as one slow change).
        by_change = np.array(lat[:len(lat) - len(lat) % changes]).reshape(-1, changes)
        result.metrics[f"p95_ms_by_change_n{n}_{tag}"] = [
            round(float(x), 1) for x in np.percentile(by_change, 95, axis=0)]
    for ref in references:
        _reference_series(result, ref, per_session, lat, n, changes, gap_s, tag, label)
    with contextlib.suppress(Exception):
        await st.rt.reservations.release_all_mine(BUYER, event_id)


def _reference_series(result: ScenarioResult, ref: Reference, per_session: list[dict[str, Any]],
                      lat: list[float], n: int, changes: int, gap_s: float, tag: str,
                      label: str) -> None:
    """The reference's latencies as a series of their own, and the product's p95 over its."""
    if not ref.sent:
        return
    ref_lat: list[float] = []
    missing = 0
    for one in per_session:
        received = {int(k): float(t) for k, t in one["refs"].items()}
        for seq, t0 in ref.sent:
            if seq in received:
                ref_lat.append(max(0.0, (received[seq] - t0) * 1000))
            else:
                missing += 1
    kind = "ref" if ref.stock else "fanout"
    what = ("bare room broadcast (python-socketio emit)" if ref.stock
            else "bare room broadcast (the hub's fan-out alone)")
    result.series.append(Series.of(f"n{n}-{tag}-{kind}", ref_lat, changes * gap_s,
                                   errors=missing, label=f"{label}, {what}", sessions=n,
                                   changes=changes))
    result.check(f"{label}: every session received every {what}", missing == 0,
                 f"{missing} of {n * len(ref.sent)} missing")
    if lat and ref_lat:
        p95, ref_p95 = float(np.percentile(lat, 95)), float(np.percentile(ref_lat, 95))
        result.metrics[f"p95_ms_n{n}_{tag}_{kind}"] = round(ref_p95, 1)
        result.metrics[f"p95_ratio_n{n}_{tag}_over_{kind}"] = round(p95 / max(ref_p95, 1e-9),
                                                                    2)


async def run(ctx: BenchContext, params: Mapping[str, Any]) -> ScenarioResult:
    result = ScenarioResult()
    st = await ctx.stack()
    if st.stack is not None:
        ctx.status("starting a web process (Reflex backend)")
        web = st.stack.procs.get("web-live")
        if web is None:
            web = await asyncio.to_thread(functools.partial(
                st.stack.start_web_backend, "web-live", LIVE_SYNC_REFERENCE="true"))
        url = f"http://127.0.0.1:{web.port}"
        await asyncio.to_thread(_wait_ready, url)
        ref_url: str | None = url
    else:
        url = ctx.options.api_url.rstrip("/")  # `ticketing web` serves the API on its port
        result.notes.append(f"sessions opened on the given deployment {url}; no reference "
                            "broadcast there (LIVE_SYNC_REFERENCE is for benchmarks)")
        ref_url = None
    proto = Protocol.discover()
    changes, gap_s = int(params["changes"]), float(params["gap_s"])
    for n in params["sessions"]:
        for second in (False, True):
            await _one(ctx, st, url, proto, int(n), changes, gap_s, second, result, ref_url)
    sse_clients, sse_procs, stalled_readers = sse.sse_params(dict(params))
    for n in sse_clients:
        await sse.run_fanout(ctx, st, url, n, sse_procs, changes, gap_s, result)
    if stalled_readers:
        port = int(url.rsplit(":", 1)[1])
        await sse.run_stalled(ctx, st, url, port, stalled_readers, sse_procs, changes, gap_s,
                              result)
    result.metrics.update({"changes_per_run": changes, "gap_s": gap_s,
                           "flush_ms": st.rt.settings.live_sync_flush_ms})
    result.notes.append("latency: change made (just before the hold call) -> seat map of that "
                        "version or later received by the session; reference: request for a "
                        "bare room broadcast of the same payload -> its receipt. Targets at "
                        "1000 sessions in a second process: p95 <= 250 ms and <= 1.2x the "
                        "reference's; SSE: 5000 clients p95 <= 500 ms")
    return result


def _wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/actuator/health/readiness", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"web process at {url} not ready after {timeout}s")


SCENARIO = Scenario(
    number=5, name="live_sync", title="Live-sync fan-out: Reflex websocket and SSE", run=run,
    quick={"sessions": [20], "changes": 5, "gap_s": 0.3, "sse_clients": [50], "sse_procs": 1,
           "stalled_readers": 20},
    full={"sessions": [100, 500, 1000], "changes": 10, "gap_s": 0.5,
          "sse_clients": [1000, 5000], "sse_procs": 2, "stalled_readers": 1000},
)
