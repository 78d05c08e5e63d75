"""Scenario 5, SSE variant: clients of the original's seat stream
(`GET /api/events/{id}/seats/stream`, bench/sse_client.py) in load processes of their own, on
one event of the web process; seats change one at a time; for each change, the time from just
before the hold call until each client received that version.

Two parts:
- N clients (5000 in the full run), split over load processes;
- one client that stops reading, beside N readers, against the same N readers without it in
  the same run. Before the readers connect, enough big changes (every seat of a 300-seat event
  blocked or unblocked: about 30 kB each on the wire) are made for the stalled client's socket
  buffers to fill and its writer to block, but not its queue (SSE_CLIENT_QUEUE); then the
  readers connect and the changes are timed; after them (readers gone) changes go on until the
  process drops the stalled client, which must happen.

Correct means: every client received every change, ends showing exactly the seat statuses the
REST seat map shows, and the stalled client is dropped (its stream closed), never buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import time
from typing import Any

import aiohttp
import httpx
import numpy as np

from bench.context import BenchContext, RunningStack
from bench.loadgen import Recorder, run_processes
from bench.scenario import ScenarioResult, Series
from bench.scenarios.original_load import server_pids
from bench.sse_client import SeatStreamClient

BUYER = "bench-sse"
CONNECT_BATCH = 200
STALL_SEATS = (10, 30)  # rows, cols of the stalled-client event: 300 seats per big change
# Big changes worth this much before the readers connect: more than the stalled client's
# socket buffers take (about 5.5 MB were seen here: kernel buffers on both ends plus the
# server's own), less than that plus its queue (SSE_CLIENT_QUEUE, 256 x about 30 kB).
STALL_BYTES = 8_000_000
DROP_LIMIT = 3000  # big changes after which a stalled client that was never dropped fails


async def clients_job(params: dict[str, Any], rec: Recorder) -> dict[str, Any]:
    """Load process: open the streams, report when every one has its INIT, wait for the last
    version, return what arrived when and the statuses each ends with."""
    n, final = int(params["clients"]), int(params["final_version"])
    clients = [SeatStreamClient(params["url"], int(params["event_id"]), keep_messages=False)
               for _ in range(n)]
    conn = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=conn) as http:
        for i in range(0, n, CONNECT_BATCH):
            await asyncio.gather(*(c.connect(http, timeout=120)
                                   for c in clients[i:i + CONNECT_BATCH]))
        await asyncio.gather(*(c.wait_for(lambda x: x.version > 0 or x.ended.is_set(), 120)
                               for c in clients))
        gc.freeze()  # the clients live to the end: no full collector passes over them
        rec.progress(ready=n)
        deadline = time.monotonic() + float(params["timeout_s"])
        while time.monotonic() < deadline:
            rec.progress(ready=n)
            if all(c.version >= final or c.ended.is_set() for c in clients):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        out = [{"arrivals": c.arrivals, "seats": sorted(c.seats.items()), "status": c.status,
                "errors": c.errors, "ended": c.ended.is_set()} for c in clients]
        await asyncio.gather(*(c.close() for c in clients))
    return {"clients": out}


async def warm_up(st: RunningStack, event_id: int, seat: int, settle_s: float = 1.0) -> None:
    """One untimed change first, then a moment for the web process to finish with the
    clients that just connected (as the websocket runs do)."""
    await st.rt.reservations.hold(BUYER, event_id, [seat], None)
    await asyncio.sleep(settle_s)


async def _changes(st: RunningStack, event_id: int, seats: list[int], gap_s: float
                   ) -> list[tuple[int, float]]:
    made = []
    for seat in seats:
        t0 = time.time()
        held = await st.rt.reservations.hold(BUYER, event_id, [seat], None)
        made.append((held.version, t0))
        await asyncio.sleep(gap_s)
    return made


def latencies(made: list[tuple[int, float]], arrivals: dict[int, float]
              ) -> tuple[list[float], int]:
    """Per change, ms until this client had that version (a stream sends every version)."""
    out, missed = [], 0
    for version, t0 in made:
        t = arrivals.get(version)
        if t is None:
            missed += 1
            continue
        out.append(max(0.0, (t - t0) * 1000))
    return out, missed


async def timed_run(ctx: BenchContext, st: RunningStack, url: str, event_id: int,
                    seats: list[int], n: int, procs: int, changes: int, gap_s: float,
                    label: str) -> tuple[list[float], dict[str, Any]]:
    """N clients in `procs` load processes, `changes` timed changes; returns the latencies and
    what the run found (missed deliveries, wrong maps, errors, client and server CPU)."""
    v0 = (await st.rt.catalog.seat_map(event_id))["version"] + 1  # after the warm-up change
    per = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    ready = asyncio.Event()

    def progress(p: dict[int, dict[str, Any]]) -> None:
        if sum(int(p.get(i, {}).get("ready", 0)) for i in range(procs)) >= n:
            ready.set()

    ctx.status(f"{label}: connecting")
    job = asyncio.create_task(run_processes(
        "bench.scenarios.live_sync_sse:clients_job",
        [{"url": url, "event_id": event_id, "clients": k, "final_version": v0 + changes,
          "timeout_s": 60 + changes * gap_s * 4} for k in per],
        on_progress=progress, start_delay=0.2, timeout=900, server_pids=server_pids(st)))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({job, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.is_set():
        waiter.cancel()
        await job
        raise RuntimeError("the load processes ended before their clients were ready")
    ctx.status(f"{label}: {changes} changes")
    await warm_up(st, event_id, seats[changes])
    made = await _changes(st, event_id, seats[:changes], gap_s)
    res = await job
    body = await st.rt.catalog.seat_map(event_id)
    truth = sorted((s["id"], s["status"]) for s in body["seats"])
    lat: list[float] = []
    missed = wrong = 0
    clients = [c for p in res.procs for c in p.info["clients"]]
    errors = [e for c in clients for e in c["errors"]]
    refused = sum(c["status"] != 200 for c in clients)
    ended = sum(bool(c["ended"]) for c in clients)
    for c in clients:
        got, miss = latencies(made, {int(v): float(t) for v, t in c["arrivals"].items()})
        lat.extend(got)
        missed += miss
        wrong += [tuple(x) for x in c["seats"]] != truth
    return lat, {"missed": missed, "wrong": wrong, "errors": len(errors) + refused + ended,
                 "clients": len(clients), "client_cpu": res.client_cpu,
                 "server_cpu": res.server_cpu}


def _record(result: ScenarioResult, name: str, label: str, lat: list[float],
            found: dict[str, Any], n: int, changes: int, gap_s: float) -> None:
    result.series.append(Series.of(name, lat, changes * gap_s, errors=found["missed"],
                                   label=label, sessions=n, changes=changes,
                                   client_cpu=found["client_cpu"]))
    result.check(f"{label}: every client received every change",
                 found["missed"] == 0 and found["clients"] == n and found["errors"] == 0,
                 f"{found['missed']} of {n * changes} deliveries missing; "
                 f"{found['errors']} clients refused, cut off or in error")
    result.check(f"{label}: every client shows the true seat map", found["wrong"] == 0,
                 f"{found['wrong']} of {n} clients differ from GET /seats")
    if lat:
        result.metrics[f"p95_ms_{name}"] = round(float(np.percentile(lat, 95)), 1)
    result.metrics[f"cores_used_{name}"] = found["server_cpu"]


async def run_fanout(ctx: BenchContext, st: RunningStack, url: str, n: int, procs: int,
                     changes: int, gap_s: float, result: ScenarioResult) -> None:
    event_id, seats = await ctx.new_event("SSE", 1, max(2, changes // 10 + 1), 10,
                                          max_seats_per_buyer=changes + 1, hold_default_s=120,
                                          hold_max_s=120)
    label = f"SSE, N={n}, {procs} load processes"
    lat, found = await timed_run(ctx, st, url, event_id, seats, n, procs, changes, gap_s, label)
    _record(result, f"sse-n{n}", label, lat, found, n, changes, gap_s)
    with contextlib.suppress(Exception):
        await st.rt.reservations.release_all_mine(BUYER, event_id)


def _stalled_socket(port: int, event_id: int) -> socket.socket:
    """A client that asks for the stream and never reads a byte (a small receive buffer)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET /api/events/{event_id}/seats/stream HTTP/1.1\r\nHost: bench\r\n"
              "Accept: text/event-stream\r\n\r\n".encode())
    return s


async def _dropped(url: str) -> float:
    async with httpx.AsyncClient(timeout=10) as c:
        text = (await c.get(f"{url}/metrics")).text
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("tk_sse_dropped_total"))


def _wire_bytes(version: int, seats: list[int]) -> int:
    from ticketing_app.api.seat_stream import encode
    from ticketing_app.services.seat_feed import UPDATE, Item

    return len(encode(Item(UPDATE, version, tuple((s, "BLOCKED") for s in seats))))


async def run_stalled(ctx: BenchContext, st: RunningStack, url: str, port: int, n: int,
                      procs: int, changes: int, gap_s: float, result: ScenarioResult) -> None:
    """N readers without, then with, a client that stopped reading: the same changes."""
    rows, cols = STALL_SEATS
    found_p95: dict[str, float] = {}
    for stalled in (False, True):
        event_id, seats = await ctx.new_event("SSE stalled", 1, rows, cols,
                                              max_seats_per_buyer=changes + 1,
                                              hold_default_s=120, hold_max_s=120)
        sock: socket.socket | None = None
        big = 0
        drops0 = await _dropped(url)
        if stalled:
            sock = await asyncio.to_thread(_stalled_socket, port, event_id)
            await asyncio.sleep(0.5)
            per_change = _wire_bytes(10**13, seats)  # ids as long as real versions
            ctx.status(f"SSE stalled client: {STALL_BYTES // per_change} big changes")
            big = await _big_changes(st, event_id, seats, STALL_BYTES // per_change)
            dropped_early = await _dropped(url) > drops0
            result.check("SSE stalled client: still connected (blocked) before the readers",
                         not dropped_early, "it was dropped already: its buffers were smaller "
                         "than assumed; the comparison is after a drop" if dropped_early else
                         f"{big} changes of about {per_change // 1000} kB waiting for it")
        label = f"SSE, N={n}, {'one client stopped reading' if stalled else 'all reading'}"
        try:
            lat, found = await timed_run(ctx, st, url, event_id, seats, n, procs,
                                         changes, gap_s, label)
            name = f"sse-n{n}-{'stalled' if stalled else 'reading'}"
            _record(result, name, label, lat, found, n, changes, gap_s)
            if lat:
                found_p95[name] = float(np.percentile(lat, 95))
            if stalled:
                ctx.status("SSE stalled client: changes until it is dropped")
                more = 0
                while await _dropped(url) <= drops0 and more < DROP_LIMIT:
                    more += await _big_changes(st, event_id, seats[changes:], 50)
                closed = sock is not None and await asyncio.to_thread(_closed_after_drain, sock)
                result.check("SSE stalled client: dropped (its stream closed), not buffered",
                             await _dropped(url) > drops0 and closed,
                             f"after {big + changes + more} changes in all; closed={closed}")
                result.metrics["sse_stalled_dropped_after_changes"] = big + changes + more
        finally:
            if sock is not None:
                sock.close()
    reading = found_p95.get(f"sse-n{n}-reading")
    stalled_p95 = found_p95.get(f"sse-n{n}-stalled")
    if reading and stalled_p95:
        result.metrics[f"sse_n{n}_p95_stalled_over_reading"] = round(stalled_p95 / reading, 2)


async def _big_changes(st: RunningStack, event_id: int, seats: list[int], count: int) -> int:
    """`count` versions that each block or unblock every one of `seats`."""
    for i in range(count):
        await st.rt.holds.block(event_id, seats, i % 2 == 0)
    if count % 2:
        await st.rt.holds.block(event_id, seats, False)
        count += 1
    return count


def _closed_after_drain(sock: socket.socket, timeout: float = 10.0) -> bool:
    """Reads what the server had buffered; True when the server then closed the stream."""
    sock.settimeout(timeout)
    try:
        while sock.recv(1 << 20):
            pass
        return True
    except (TimeoutError, ConnectionResetError):
        return False


def sse_params(params: dict[str, Any]) -> tuple[list[int], int, int]:
    return ([int(x) for x in params.get("sse_clients", [])], int(params.get("sse_procs", 2)),
            int(params.get("stalled_readers", 0)))
