"""What a scenario runs against: the options, one shared stack (started lazily, on a fresh
PostgreSQL database when one is reachable), an in-process runtime for setup and checks, and
the progress display."""

from __future__ import annotations

import atexit
import contextlib
import os
import platform
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.progress import Progress, TaskID

from ticketing_app import embedded
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.settings import Settings, to_async_url
from ticketing_app.stack import Stack

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# The load stack: every virtual user comes from 127.0.0.1, so the per-address limit is off and
# the per-holder limit is far above what one virtual user does. The simulated provider answers
# in 20-100 ms (80% approvals, the original's ratio), so /authorize measures our path rather
# than a made-up provider delay. Logs at WARNING: a log line per request is not free.
LOAD_ENV = {
    "RATE_LIMIT_IP_PER_MINUTE": "0",
    "RATE_LIMIT_BUYERS_PER_MINUTE": "0",
    "RATE_LIMIT_HOLDS_PER_MINUTE": "1000000",
    "PAYMENT_LATENCY_MIN_MS": "20",
    "PAYMENT_LATENCY_MAX_MS": "100",
    "PAYMENT_SUCCESS_RATE": "0.8",
    "LOG_LEVEL": "WARNING",
}
LOGS_DIR = Path("artifacts/bench-logs")  # the stack's process logs are kept here (git-ignored)


@dataclass
class BenchOptions:
    quick: bool = False
    out_dir: Path = Path("artifacts/bench")
    scenarios: list[str] = field(default_factory=list)
    pg_url: str = DEFAULT_PG_URL
    api_url: str = ""
    server: str = "granian"
    api_workers: int = 1  # API server processes; one per core uses the machine like production
    keep_db: bool = False
    # A scenario parameter's value instead of its quick/full default ("purchases" -> "600"),
    # for repeated focused runs (a smaller size on a busy machine).
    overrides: dict[str, str] = field(default_factory=dict)


@dataclass
class RunningStack:
    """The platform under test: its API URL and a runtime talking to its Redis and database."""

    api_url: str
    rt: Runtime
    backend: str  # "postgres" | "sqlite"
    database_url: str
    stack: Stack | None = None  # None when benchmarking a deployment given by --api-url
    env: dict[str, str] = field(default_factory=dict)

    @property
    def managed(self) -> bool:
        return self.stack is not None

    def log_tail(self, name: str, chars: int = 2000) -> str:
        if self.stack is None or name not in self.stack.procs:
            return ""
        return self.stack.procs[name].log_path.read_text(errors="replace")[-chars:]


def pg_reachable(url: str) -> str:
    """'' when we can connect, else why not."""
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return ""
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"


def create_database(admin_url: str) -> str:
    name = f"tk_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def machine_info() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = 0.0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": mem_gib,
            "python": platform.python_version(), "platform": platform.platform()}


class BenchContext:
    def __init__(self, options: BenchOptions, console: Console, progress: Progress):
        self.options = options
        self.console = console
        self.progress = progress
        self.pg_problem = pg_reachable(options.pg_url) if options.pg_url else "no --pg-url"
        self.shared: dict[str, Any] = {}  # results one scenario hands to another
        self._stack: RunningStack | None = None
        self._pg_db_url = ""
        self._task: TaskID | None = None
        self._title = ""
        self._last_log = 0.0

    @property
    def quick(self) -> bool:
        return self.options.quick

    @property
    def has_postgres(self) -> bool:
        return not self.pg_problem

    @property
    def running_stack(self) -> RunningStack | None:
        """The stack if a scenario started it (None otherwise)."""
        return self._stack

    @property
    def workdir(self) -> Path:
        path = self.options.out_dir / "work"
        path.mkdir(parents=True, exist_ok=True)
        return path

    # ---- progress -----------------------------------------------------------------------
    @contextlib.contextmanager
    def scenario_progress(self, title: str) -> Iterator[None]:
        self._task = self.progress.add_task(title, total=1.0, status="")
        self._title = title
        self._log(f"{title}: started", force=True)
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.progress.update(self._task, completed=1.0, status="")
            self._log(f"{title}: done in {time.monotonic() - t0:.0f} s", force=True)
            self._task = None

    def _log(self, line: str, force: bool = False) -> None:
        """Without a terminal (CI, a log file) a live bar shows nothing: print lines instead,
        at most one every few seconds."""
        if self.console.is_terminal:
            return
        now = time.monotonic()
        if force or now - self._last_log >= 5.0:
            self._last_log = now
            self.console.print(f"[{time.strftime('%H:%M:%S')}] {line}", highlight=False)

    def status(self, text: str, fraction: float | None = None) -> None:
        """Scenarios report what they do now (and how far, 0..1)."""
        if self._task is None:
            return
        self._log(f"{self._title}: {text}")
        kw: dict[str, Any] = {"status": text}
        if fraction is not None:
            kw["completed"] = max(0.0, min(1.0, fraction))
        self.progress.update(self._task, **kw)

    # ---- the platform under test ---------------------------------------------------------
    async def stack(self) -> RunningStack:
        if self._stack is None:
            self._stack = await self._start()
        return self._stack

    async def _start(self) -> RunningStack:
        if self.options.api_url:
            return await self._attach()
        env = dict(LOAD_ENV)
        if self.has_postgres:
            self._pg_db_url = to_async_url(create_database(self.options.pg_url))
            db_url, backend = self._pg_db_url, "postgres"
        else:
            db_url = f"sqlite+aiosqlite:///{self.workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
            backend = "sqlite"
        # A shared machine under load can take a minute to import the API.
        st = Stack(database_url=db_url, extra_env={**env, "API_SERVER": self.options.server},
                   start_timeout_s=embedded.START_TIMEOUT_S)
        atexit.register(st.stop)  # a crash or Ctrl-C must not leave the stack running
        self.status("starting Valkey and the Kafka-protocol broker")
        st.start_services()
        try:
            self.status("migrating the database")
            st.migrate()
            self.status(f"starting the API ({self.options.server}, "
                        f"{self.options.api_workers} processes), worker, relay, consumers")
            st.start_api(workers=self.options.api_workers)
            for kind in ("worker", "relay", "consumers"):
                st.start_process(kind)
        except Exception:
            st.stop()
            raise
        settings = settings_from_env(st.env())
        rt = await create_runtime(settings)
        return RunningStack(api_url=f"http://127.0.0.1:{st.procs['api'].port}", rt=rt,
                            backend=backend, database_url=db_url, stack=st, env=st.env())

    async def _attach(self) -> RunningStack:
        settings = Settings()
        if not settings.redis_url or not settings.database_url:
            raise RuntimeError(
                "--api-url needs the deployment's REDIS_URL and DATABASE_URL in the environment "
                "(to create the benchmark events and reconcile afterwards)")
        rt = await create_runtime(settings)
        backend = "postgres" if rt.db.is_postgres else "sqlite"
        return RunningStack(api_url=self.options.api_url.rstrip("/"), rt=rt, backend=backend,
                            database_url=settings.database_url)

    async def close(self) -> None:
        if self._stack is not None:
            with contextlib.suppress(Exception):
                await self._stack.rt.close()
            if self._stack.stack is not None:
                self._stack.stack.stop()
                atexit.unregister(self._stack.stack.stop)
                logs = self._stack.stack.workdir / "logs"
                if logs.is_dir():
                    keep = LOGS_DIR / time.strftime("%Y%m%d-%H%M%S")
                    shutil.copytree(logs, keep, dirs_exist_ok=True)
                    self.console.print(f"platform logs: {keep}")
                embedded.cleanup_dir(self._stack.stack.workdir)
            self._stack = None
        if self._pg_db_url and not self.options.keep_db:
            with contextlib.suppress(Exception):
                drop_database(self.options.pg_url, self._pg_db_url)

    # ---- helpers for scenarios -----------------------------------------------------------
    async def new_event(self, title: str, sections: int, rows: int, cols: int,
                        **settings: Any) -> tuple[int, list[int]]:
        """An on-sale event on a fresh venue of `sections` grids of rows x cols; returns its id
        and seat ids (layout order)."""
        from ticketing_app.services.admin import GridSpec, TierSpec

        st = await self.stack()
        rt = st.rt
        grids = [GridSpec(f"S{i + 1}", rows, cols, row_offset=i * rows) for i in range(sections)]
        venue = await rt.admin.create_venue("bench", f"{title} hall {uuid.uuid4().hex[:6]}",
                                            grids)
        ev = await rt.admin.create_event(
            "bench", title=f"{title} {uuid.uuid4().hex[:6]}",
            starts_at=datetime.now(UTC) + timedelta(days=30), venue_id=int(venue.id or 0),
            tiers=[TierSpec("Standard", 50000)], status="ON_SALE", **settings)
        event_id = int(ev.id or 0)
        layout = await rt.catalog.layout(event_id, fresh=True)
        return event_id, [s.id for s in layout.seats]


def settings_from_env(env: dict[str, str]) -> Settings:
    return Settings.model_validate({k.lower(): v for k, v in env.items()
                                    if k.lower() in Settings.model_fields})
