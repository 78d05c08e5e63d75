"""Our platform as `ticketing up` runs it, for scenarios that bring their own stacks (the k6
scenarios), and CPU accounting for PostgreSQL backends.

A scenario that compares configurations, or compares us with another system, cannot share the
bench's one stack: each configuration gets its own services, database and processes, started
and stopped here, so the web process is the one `ticketing up` serves (`ticketing web
--backend-only`: the same server, processes and request path, without compiling pages no load
tool reads).
"""

from __future__ import annotations

import contextlib
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg

from bench.context import BenchContext, create_database, drop_database, settings_from_env
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.embedded import ChildProcess, free_port
from ticketing_app.settings import PROJECT_ROOT, to_async_url
from ticketing_app.stack import Stack


@contextlib.asynccontextmanager
async def platform(ctx: BenchContext, backend: str, env: Mapping[str, str], label: str
                   ) -> AsyncIterator[tuple[Stack, Runtime, str]]:
    """A stack on `backend` (sqlite | postgres) with these settings, its web process as
    `ticketing up` runs it, and a runtime to set up events and check afterwards; yields
    (stack, runtime, base URL). The database is dropped afterwards unless --keep-db."""
    async with platform_webs(ctx, backend, env, label, {"web": {}}) as (st, rt, urls):
        yield st, rt, urls["web"]


@contextlib.asynccontextmanager
async def platform_webs(ctx: BenchContext, backend: str, env: Mapping[str, str], label: str,
                        webs: Mapping[str, Mapping[str, str]],
                        ) -> AsyncIterator[tuple[Stack, Runtime, dict[str, str]]]:
    """As `platform`, with one web process per entry of `webs` (its name and the settings it
    adds: e.g. the abuse limits off); an idle one costs nothing measurable. Yields (stack,
    runtime, {name: base URL})."""
    pg_url = ""
    if backend == "postgres":
        pg_url = to_async_url(create_database(ctx.options.pg_url))
        db_url = pg_url
    else:
        db_url = f"sqlite+aiosqlite:///{ctx.workdir / f'k6-{uuid.uuid4().hex[:8]}.db'}"
    st = Stack(database_url=db_url, extra_env=dict(env))
    rt: Runtime | None = None
    try:
        ctx.status(f"{label}: starting the stack")
        st.start_services()
        st.migrate()
        for kind in ("worker", "relay", "consumers"):
            st.start_process(kind)
        urls = {}
        for name, extra in webs.items():
            port = free_port()
            web = ChildProcess(name, [sys.executable, "-m", "ticketing_app.cli", "web",
                                      "--backend-only", "--port", str(port)], port,
                               st.workdir / "logs" / f"{name}.log",
                               env=st.env(WEB_HOST="127.0.0.1", WEB_WORKERS="0", **extra),
                               cwd=PROJECT_ROOT)
            st.procs[name] = web.start()
            urls[name] = f"http://127.0.0.1:{port}"
        rt = await create_runtime(settings_from_env(st.env()))
        yield st, rt, urls
    finally:
        if rt is not None:
            with contextlib.suppress(Exception):
                await rt.close()
        st.stop()
        if pg_url and not ctx.options.keep_db:
            with contextlib.suppress(Exception):
                drop_database(ctx.options.pg_url, pg_url)


async def new_event(rt: Runtime, rows: int, cols: int, **settings: Any
                    ) -> tuple[int, list[int]]:
    """An on-sale event of rows x cols seats, loaded into Redis; (its id, seat ids)."""
    from ticketing_app.services.admin import GridSpec, TierSpec

    venue = await rt.admin.create_venue("bench", f"k6 hall {uuid.uuid4().hex[:6]}",
                                        [GridSpec("Main", rows, cols)])
    ev = await rt.admin.create_event(
        "bench", title=f"k6 {uuid.uuid4().hex[:6]}",
        starts_at=datetime.now(UTC) + timedelta(days=30), venue_id=int(venue.id or 0),
        tiers=[TierSpec("Standard", 50000)], status="ON_SALE", **settings)
    event_id = int(ev.id or 0)
    layout = await rt.catalog.layout(event_id, fresh=True)
    await rt.catalog.snapshot(event_id)
    return event_id, [s.id for s in layout.seats]


def stack_pids(st: Stack, extra: Mapping[str, ChildProcess] | None = None) -> dict[str, int]:
    """Every process of a stack (and `extra`), by name, for CPU sampling."""
    pids = {n: p.proc.pid for n, p in {**st.procs, **(extra or {})}.items()
            if p.proc is not None}
    for name, child in (("valkey", st.redis), ("kafka", st.kafka)):
        if child is not None and child.proc is not None:
            pids[name] = child.proc.pid
    return pids


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


def admin_url_for(admin_url: str, dbname: str) -> str:
    """The admin URL pointed at another database of the same server (sync driver)."""
    base = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    return base.rsplit("/", 1)[0] + "/" + dbname


def analyze(admin_url: str, dbname: str) -> None:
    """`ANALYZE` one database: this machine's PostgreSQL runs with autovacuum off, and stale
    statistics after seeding or a load phase turn a 2 ms quota count into 500 ms."""
    with psycopg.connect(admin_url_for(admin_url, dbname), autocommit=True) as conn:
        conn.execute("ANALYZE")


class PgBackendsCpu:
    """CPU of the PostgreSQL backends serving one database, over a window, in cores.

    Backends are children of the postmaster, not of the system under test, so they are found
    by database name in `pg_stat_activity` at the start and at the end of the window: those
    alive at both count their difference, those born during it their whole life. A backend
    that exited during the window is missed, so both systems must keep persistent
    connections (Django's CONN_MAX_AGE, our pools) for this to be complete.
    """

    def __init__(self, admin_url: str, dbname: str):
        self.admin_url = admin_url.replace("postgresql+asyncpg://", "postgresql://")
        self.dbname = dbname
        self._start: dict[int, float] = {}
        self._t0 = 0.0

    def _pids(self) -> list[int]:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                (self.dbname,)).fetchall()
        return [int(r[0]) for r in rows]

    @staticmethod
    def _cpu(pid: int) -> float | None:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            return None
        return float(t.user + t.system)

    def start(self) -> None:
        self._start = {p: c for p in self._pids() if (c := self._cpu(p)) is not None}
        self._t0 = time.monotonic()

    def stop(self) -> tuple[float, int]:
        """(cores used by this database's backends, backends seen at the end)."""
        wall = max(1e-9, time.monotonic() - self._t0)
        used = 0.0
        pids = self._pids()
        for pid in pids:
            now = self._cpu(pid)
            if now is not None:
                used += now - self._start.get(pid, 0.0)
        return round(used / wall, 3), len(pids)


def log_tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


class TreeCpu:
    """CPU of process trees over a window, in cores, reaped descendants included.

    gunicorn replaces a worker after `--max-requests`, and a replaced worker's CPU would vanish
    from a sampler that only reads live processes; the kernel adds it to its parent's
    children times when the parent reaps it. So a tree's total is, over its live processes,
    each one's own time plus the time of the children it reaped.
    """

    def __init__(self, pids: Mapping[str, int]):
        self.roots = {name: psutil.Process(pid) for name, pid in pids.items()
                      if psutil.pid_exists(pid)}
        self._start: dict[str, float] = {}
        self._t0 = 0.0

    @staticmethod
    def total(root: psutil.Process) -> float:
        out = 0.0
        with contextlib.suppress(psutil.Error):
            for p in (root, *root.children(recursive=True)):
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    out += t.user + t.system + t.children_user + t.children_system
        return out

    def start(self) -> None:
        self._start = {n: self.total(p) for n, p in self.roots.items()}
        self._t0 = time.monotonic()

    def stop(self) -> dict[str, float]:
        wall = max(1e-9, time.monotonic() - self._t0)
        return {n: round((self.total(p) - self._start.get(n, 0.0)) / wall, 3)
                for n, p in self.roots.items()}
