"""Load generation in separate processes, so the client is not the bottleneck of the server it
measures: each process runs uvloop with aiohttp (a C HTTP parser; httpx spent ~5 ms of CPU per
request with 100 connections here, aiohttp ~0.3 ms), records every request, and reports its
own CPU use so a saturated client is reported instead of silently skewing the numbers.

A process runs one `job` function (an importable `async def job(spec, rec) -> dict`), with
`rec` recording samples and sending progress. All processes of one run start at the same
wall-clock instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import multiprocessing as mp
import queue as queue_mod
import time
from array import array
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psutil

TIMEOUT = 0  # status recorded for a request that timed out
CONN_ERROR = -1  # refused, reset, or the server closed the connection
SATURATED_CPU = 0.9  # a client process busier than this (of one core) may be the bottleneck


@dataclass
class ProcSpec:
    job: str  # "module:function"
    index: int
    params: dict[str, Any]
    start_at: float  # time.time() at which every process starts its load


class Recorder:
    """Samples of one process: endpoint, start offset, latency, status."""

    def __init__(self, endpoints: Sequence[str], q: Any, index: int, t0: float):
        self.endpoints = list(endpoints)
        self._ep = {e: i for i, e in enumerate(self.endpoints)}
        self.q = q
        self.index = index
        self.t0 = t0
        self.ep = array("b")
        self.start = array("d")
        self.lat = array("d")
        self.status = array("h")
        self.done = 0
        self.errors = 0
        self._last_report = 0.0

    def add(self, endpoint: str, started: float, latency_s: float, status: int) -> None:
        self.ep.append(self._ep[endpoint])
        self.start.append(started - self.t0)
        self.lat.append(latency_s * 1000.0)
        self.status.append(status)
        self.done += 1
        if status >= 500 or status <= 0:
            self.errors += 1

    def progress(self, **extra: Any) -> None:
        now = time.monotonic()
        if now - self._last_report >= 0.5:
            self._last_report = now
            self.q.put(("progress", self.index, {"done": self.done, "errors": self.errors,
                                                 **extra}))

    def payload(self) -> dict[str, Any]:
        return {"endpoints": self.endpoints, "ep": self.ep.tobytes(),
                "start": self.start.tobytes(), "lat": self.lat.tobytes(),
                "status": self.status.tobytes()}


@dataclass
class Samples:
    """Every request of a run, merged from all processes (numpy columns)."""

    endpoints: list[str]
    ep: np.ndarray
    start: np.ndarray
    lat: np.ndarray
    status: np.ndarray

    @classmethod
    def merge(cls, payloads: Sequence[dict[str, Any]]) -> Samples:
        endpoints = payloads[0]["endpoints"] if payloads else []
        return cls(
            endpoints,
            np.concatenate([np.frombuffer(p["ep"], dtype=np.int8) for p in payloads])
            if payloads else np.zeros(0, np.int8),
            np.concatenate([np.frombuffer(p["start"], dtype=np.float64) for p in payloads])
            if payloads else np.zeros(0),
            np.concatenate([np.frombuffer(p["lat"], dtype=np.float64) for p in payloads])
            if payloads else np.zeros(0),
            np.concatenate([np.frombuffer(p["status"], dtype=np.int16) for p in payloads])
            if payloads else np.zeros(0, np.int16),
        )

    def mask(self, endpoint: str | None = None, t_from: float | None = None,
             t_to: float | None = None) -> np.ndarray:
        m = np.ones(self.lat.size, dtype=bool)
        if endpoint is not None:
            m &= self.ep == self.endpoints.index(endpoint)
        if t_from is not None:
            m &= self.start >= t_from
        if t_to is not None:
            m &= self.start < t_to
        return m

    @staticmethod
    def is_error(status: np.ndarray) -> np.ndarray:
        return (status >= 500) | (status <= 0)

    def status_counts(self, m: np.ndarray) -> dict[str, int]:
        codes, counts = np.unique(self.status[m], return_counts=True)
        names = {TIMEOUT: "timeout", CONN_ERROR: "conn_error"}
        return {names.get(int(c), str(int(c))): int(n) for c, n in zip(codes, counts, strict=True)}


@dataclass
class ProcResult:
    index: int
    samples: dict[str, Any]
    info: dict[str, Any]
    cpu_s: float
    wall_s: float

    @property
    def cpu_util(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


@dataclass
class RunResult:
    procs: list[ProcResult]
    samples: Samples
    wall_s: float
    started_at: float = 0.0  # time.time() of the common start; sample offsets count from it
    server_cpu: dict[str, float] = field(default_factory=dict)  # process name -> cores used

    @property
    def client_cpu(self) -> list[float]:
        return [round(p.cpu_util, 3) for p in self.procs]

    @property
    def client_saturated(self) -> bool:
        return any(u > SATURATED_CPU for u in self.client_cpu)

    @property
    def other_load(self) -> float:
        """Cores used by processes that are neither the platform nor the load generator
        (other work on a shared machine): the numbers are pessimistic when this is high."""
        if "machine" not in self.server_cpu:
            return 0.0
        ours = sum(v for k, v in self.server_cpu.items() if k != "machine")
        return round(max(0.0, self.server_cpu["machine"] - ours - sum(self.client_cpu)), 2)

    def client_note(self) -> str:
        util = ", ".join(f"{u:.0%}" for u in self.client_cpu)
        if self.client_saturated:
            return (f"client CPU SATURATED (load processes used {util} of a core): latencies "
                    "include client queueing")
        return f"load processes used {util} of a core each (not saturated)"


def _child_main(spec: ProcSpec, q: Any) -> None:
    """Entry point of a load process."""
    import uvloop

    module, func = spec.job.split(":")
    job: Callable[[dict[str, Any], Recorder], Awaitable[dict[str, Any]]] = getattr(
        importlib.import_module(module), func)
    endpoints = spec.params.get("endpoints", [])
    rec = Recorder(endpoints, q, spec.index, spec.start_at)

    async def main() -> dict[str, Any]:
        delay = spec.start_at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        return await job(spec.params, rec)

    try:
        c0, w0 = time.process_time(), time.monotonic()
        info = uvloop.run(main())
        cpu, wall = time.process_time() - c0, time.monotonic() - w0
        q.put(("done", spec.index, ProcResult(spec.index, rec.payload(), info, cpu, wall)))
    except BaseException as exc:  # reported to the parent, which fails the scenario
        import traceback

        q.put(("error", spec.index, "".join(traceback.format_exception(exc))[-3000:]))


class CpuSampler:
    """CPU used by the platform's processes during a run, in cores (1.0 = one core busy)."""

    def __init__(self, pids: dict[str, int]):
        self.procs: dict[str, list[psutil.Process]] = {}
        for name, pid in pids.items():
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                self.procs[name] = [p, *p.children(recursive=True)]
        self._start: dict[str, float] = {}
        self._t0 = 0.0

    def _cpu(self, procs: list[psutil.Process]) -> float:
        total = 0.0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    @staticmethod
    def _machine_busy() -> float:
        t = psutil.cpu_times()
        return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._start = {n: self._cpu(ps) for n, ps in self.procs.items()}
        self._machine0 = self._machine_busy()

    def stop(self) -> dict[str, float]:
        """Cores used per process, plus `machine` (every process on the machine)."""
        wall = max(1e-9, time.monotonic() - self._t0)
        out = {n: round((self._cpu(ps) - self._start.get(n, 0.0)) / wall, 3)
               for n, ps in self.procs.items()}
        out["machine"] = round((self._machine_busy() - self._machine0) / wall, 3)
        return out


async def run_processes(
    job: str, params_per_proc: Sequence[dict[str, Any]],
    on_progress: Callable[[dict[int, dict[str, Any]]], None] | None = None,
    start_delay: float = 1.5, timeout: float = 1200.0, server_pids: dict[str, int] | None = None,
) -> RunResult:
    """Runs `job` in one process per params dict and merges what they recorded."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    start_at = time.time() + start_delay + 0.5 * len(params_per_proc)
    procs = []
    for i, params in enumerate(params_per_proc):
        p = ctx.Process(target=_child_main, args=(ProcSpec(job, i, dict(params), start_at), q),
                        daemon=True, name=f"bench-load-{i}")
        p.start()
        procs.append(p)
    sampler = CpuSampler(server_pids or {})
    sampler_started = False
    results: dict[int, ProcResult] = {}
    progress: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    t0 = time.time()
    try:
        while len(results) < len(procs):
            if not sampler_started and time.time() >= start_at:
                sampler.start()
                sampler_started = True
            message = _next_message(q)
            if message is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"load processes did not finish within {timeout}s")
                dead = [p for i, p in enumerate(procs) if i not in results and not p.is_alive()
                        and p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"load process {dead[0].name} died "
                                       f"(exit {dead[0].exitcode})")
                await asyncio.sleep(0.1)
                continue
            kind, idx, payload = message
            if kind == "progress":
                progress[idx] = payload
                if on_progress:
                    on_progress(progress)
            elif kind == "done":
                results[idx] = payload
            else:
                raise RuntimeError(f"load process {idx} failed:\n{payload}")
    finally:
        for p in procs:
            if p.is_alive():
                p.join(5)
            if p.is_alive():
                p.kill()
    server_cpu = sampler.stop() if sampler_started else {}
    ordered = [results[i] for i in range(len(procs))]
    return RunResult(ordered, Samples.merge([r.samples for r in ordered]),
                     time.time() - max(t0, start_at), start_at, server_cpu)


def _next_message(q: Any) -> tuple[str, int, Any] | None:
    try:
        return q.get_nowait()  # type: ignore[no-any-return]
    except queue_mod.Empty:
        return None


def split(total: int, parts: int) -> list[tuple[int, int]]:
    """[start, end) ranges of `total` items over `parts` processes."""
    base, extra = divmod(total, parts)
    out, start = [], 0
    for i in range(parts):
        n = base + (1 if i < extra else 0)
        out.append((start, start + n))
        start += n
    return out
