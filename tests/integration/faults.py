"""Tools of the fault-injection tests: a stack of real processes on SQLite or PostgreSQL that a
test may break, a TCP proxy in front of a networked service (PostgreSQL, Redis) that a test can
cut or black-hole, process signals, and the checks every fault test ends with (each order final,
each payment charged once, the audit clean)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlmodel import col

from tests.conftest import BACKENDS, TEST_ENV, create_pg_database, drop_pg_database
from tests.integration.helpers import assert_error
from ticketing_app.bootstrap import Runtime
from ticketing_app.db.models import Order, Payment
from ticketing_app.embedded import ChildProcess, free_port
from ticketing_app.holds.keys import PROVIDER_LEDGER_PREFIX
from ticketing_app.services.audit import AuditReport, audit
from ticketing_app.stack import Stack

# The stack runs with the production defaults for everything the recovery bounds depend on
# (PAYMENT_JOB_TIMEOUT_S 10, PAYMENT_PROVIDER_TIMEOUT_S 5, ORDER_PAYMENT_WINDOW_S 120), so the
# tests prove the bounds the docs state. Only the simulated provider is slower than in the
# other tests, so that a kill or a pause lands while a charge is under way, and the
# idempotency lease is short, so a retry after a killed request does not wait 30 s.
FAULT_ENV = {
    **TEST_ENV,
    "PAYMENT_LATENCY_MIN_MS": "300",
    "PAYMENT_LATENCY_MAX_MS": "900",
    "IDEMPOTENCY_LEASE_S": "4",
}
FINAL_ORDER = {"CONFIRMED", "CANCELLED"}
# The database backends the fault modules run on (TEST_DB_BACKENDS, both by default): SQLite is
# what `ticketing up` gives a new user, PostgreSQL what production runs.
FAULT_BACKENDS = BACKENDS
SQLITE_IS_A_FILE = ("SQLite is a file opened by each process, not a peer behind a network: "
                    "there is no connection to cut or black-hole")


@contextlib.contextmanager
def fault_stack(backend: str = "postgres", proxied: bool = False,
                **extra_env: str) -> Iterator[Stack]:
    """A fresh database (a SQLite file or a PostgreSQL database), Valkey, the broker, the API, a
    worker, the relay and the consumers, all processes of their own. `proxied`: every process
    reaches Redis and PostgreSQL through a `TcpProxy` (`proxies(st)`), which a test may cut or
    black-hole; `direct_env(st)` is the way around them, for the test's own checks."""
    workdir = Path(tempfile.mkdtemp(prefix=f"tk-faults-{backend}-"))  # its logs/ outlive it
    url = (create_pg_database() if backend == "postgres"
           else f"sqlite+aiosqlite:///{workdir / 'ticketing.db'}")
    st = Stack(database_url=url, workdir=workdir,
               extra_env={**FAULT_ENV, **extra_env}).start_services()
    proxy_list: list[TcpProxy] = []
    try:
        st.migrate()
        if proxied:
            assert st.redis is not None
            redis_proxy = TcpProxy("127.0.0.1", st.redis.port).start()
            proxy_list.append(redis_proxy)
            st.extra_env["REDIS_URL"] = f"redis://127.0.0.1:{redis_proxy.port}/0"
            if backend == "postgres":
                db = make_url(url)
                db_proxy = TcpProxy(db.host or "127.0.0.1", db.port or 5432).start()
                proxy_list.append(db_proxy)
                st.extra_env["DATABASE_URL"] = db.set(host="127.0.0.1", port=db_proxy.port) \
                    .render_as_string(hide_password=False)
            _PROXIES[id(st)] = Proxies(redis_proxy, db_proxy if backend == "postgres" else None)
        st.start_api()
        for kind in ("worker", "relay", "consumers"):
            st.start_process(kind)
        yield st
    finally:
        st.stop()
        for proxy in proxy_list:
            proxy.stop()
        _PROXIES.pop(id(st), None)
        if backend == "postgres":
            drop_pg_database(url)


@dataclass(frozen=True)
class Proxies:
    redis: TcpProxy
    db: TcpProxy | None  # None on SQLite: a file, not a peer


_PROXIES: dict[int, Proxies] = {}


def proxies(st: Stack) -> Proxies:
    return _PROXIES[id(st)]


def direct_env(st: Stack) -> dict[str, str]:
    """The stack's environment with the real addresses of Redis and the database."""
    return st.env(DATABASE_URL=st.database_url, REDIS_URL=st.redis_url)


def is_sqlite(st: Stack) -> bool:
    return st.database_url.startswith("sqlite")


def api_url(st: Stack, name: str = "api") -> str:
    return f"http://127.0.0.1:{st.procs[name].port}"


def client(st: Stack, buyer: str, name: str = "api", **kw: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api_url(st, name), headers={"X-Caller-Id": buyer},
                             timeout=kw.pop("timeout", 60), **kw)


def signal_group(proc: ChildProcess, sig: signal.Signals) -> None:
    """SIGSTOP / SIGCONT / SIGKILL a process we started (and its children)."""
    assert proc.proc is not None and proc.proc.poll() is None, f"{proc.name} is not running"
    os.killpg(proc.proc.pid, sig)


def restart(st: Stack, kind: str, **env: str) -> ChildProcess:
    """An orchestrator's restart: stop what runs under that name (SIGKILL if asked before),
    start a fresh one with the stack's ordinary settings plus `env`."""
    old = st.procs.get(kind)
    if old is not None:
        old.stop()
    if kind == "api":
        return st.start_api(**env)
    return st.start_process(kind, **env)


# ---- buyers --------------------------------------------------------------------------------

def buyer_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def new_event(rt: Runtime, rows: int = 2, cols: int = 10) -> tuple[int, list[int]]:
    from datetime import UTC, datetime, timedelta

    from ticketing_app.services.admin import GridSpec, TierSpec

    venue = await rt.admin.create_venue("test", f"Hall {uuid.uuid4().hex[:6]}",
                                        [GridSpec("Main", rows, cols)])
    ev = await rt.admin.create_event("test", title=f"Fault {uuid.uuid4().hex[:6]}",
                                     starts_at=datetime.now(UTC) + timedelta(days=7),
                                     venue_id=int(venue.id or 0),
                                     tiers=[TierSpec("Standard", 50000)], status="ON_SALE")
    event_id = int(ev.id or 0)
    return event_id, [s.id for s in (await rt.catalog.layout(event_id, fresh=True)).seats]


async def hold_and_order(c: httpx.AsyncClient, event_id: int, seats: list[int],
                         key: str | None = None) -> dict[str, Any]:
    r = await c.post("/api/reservations", json={"eventId": event_id, "seatIds": seats})
    assert r.status_code == 201, r.text
    r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": seats},
                     headers={"Idempotency-Key": key or uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def authorize(c: httpx.AsyncClient, order_id: int) -> httpx.Response:
    return await c.post("/api/payments/authorize", json={"orderId": order_id})


# ---- what every fault test checks at the end ------------------------------------------------

async def order_statuses(rt: Runtime, order_ids: list[int]) -> dict[int, str]:
    async with rt.db.read_sessions() as s:
        rows = (await s.execute(select(col(Order.id), col(Order.status))
                                .where(col(Order.id).in_(order_ids)))).all()
    return {int(i): str(st) for i, st in rows}


async def wait_all_final(rt: Runtime, order_ids: list[int], deadline: float) -> dict[int, str]:
    """Every order CONFIRMED or CANCELLED before `deadline` (time.monotonic()): the recovery
    bound is the assertion, so the error says which orders were still open."""
    while True:
        statuses = await order_statuses(rt, order_ids)
        if all(statuses.get(o) in FINAL_ORDER for o in order_ids):
            return statuses
        if time.monotonic() > deadline:
            open_ = {o: statuses.get(o) for o in order_ids if statuses.get(o) not in FINAL_ORDER}
            raise AssertionError(f"orders still open at the deadline: {open_}")
        await asyncio.sleep(0.2)


async def payments_of(rt: Runtime, order_ids: list[int]) -> list[Payment]:
    async with rt.db.read_sessions() as s:
        return list((await s.execute(select(Payment).where(
            col(Payment.order_id).in_(order_ids)).order_by(col(Payment.id)))).scalars())


async def charges(rt: Runtime, payment_id: int) -> tuple[int, str | None]:
    """(how many times the simulated provider charged this payment, its recorded verdict)."""
    count = await rt.redis.get(f"{PROVIDER_LEDGER_PREFIX}count:{payment_id}")
    raw = await rt.redis.get(f"{PROVIDER_LEDGER_PREFIX}{payment_id}")
    verdict = (raw.decode() if isinstance(raw, bytes) else raw or "").split(":", 1)[0] or None
    return int(count or 0), verdict


async def assert_audit_clean(rt: Runtime, event_id: int, timeout: float = 30) -> AuditReport:
    """Waits until the event is fully reconciled, every outbox row included (the projection
    catches up after a fault), then demands a clean audit with the ordinary grace periods."""
    deadline = time.monotonic() + timeout
    while True:
        report = await audit(rt, event_id, outbox_grace_s=0, settle_s=0)
        if report.ok:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"audit not clean after {timeout}s: {report.summary()}")
        await asyncio.sleep(0.3)
    final = await audit(rt, event_id)
    assert final.ok, final.summary()
    assert final.checked["seats"] > 0
    return final


def assert_unavailable(resp: httpx.Response) -> None:
    assert_error(resp, 503, "SERVICE_UNAVAILABLE")


# ---- a TCP proxy the test can cut or black-hole ---------------------------------------------

@dataclass(eq=False)
class _Pipe:
    writers: list[asyncio.StreamWriter]
    # Black-holed: every byte either way is dropped and neither end is told anything, a close
    # included, for as long as the proxy lives (as a middlebox that lost the connection's state
    # without a reset): each end has to notice by its own timeouts.
    dead: bool = False

    def abort(self) -> None:
        for w in self.writers:
            with contextlib.suppress(Exception):
                w.transport.abort()  # RST: the peer sees the connection die, as on a crash


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target (PostgreSQL, Redis) from a thread with its own
    event loop, so a test blocking its own loop never stalls the service.

    `cut()` kills every open connection and refuses new ones (accept, then reset) until
    `restore()`. `black_hole()` is a peer that stops answering without closing anything: open
    connections stay open and forward nothing more in either direction, new ones are accepted
    and never forwarded, until `heal()`; after it, new connections work and the black-holed
    ones stay dead (no byte, no close), so each client must find that out by itself."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.cut_now = False
        self.holed = False
        self.connections = 0
        self.swallowed = 0  # connections accepted while black-holed
        self._pipes: set[_Pipe] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy",
                                        daemon=True)

    def start(self) -> TcpProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_now:
            writer.transport.abort()
            return
        if self.holed:
            self.swallowed += 1
            pipe = _Pipe([writer], dead=True)
            self._pipes.add(pipe)
            with contextlib.suppress(Exception):
                while await reader.read(65536):
                    pass  # dropped; the client's close is not answered either
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        pipe = _Pipe([writer, up_writer])
        self._pipes.add(pipe)

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    if pipe.dead:
                        continue
                    dst.write(data)
                    await dst.drain()
            if not pipe.dead:
                pipe.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        if not pipe.dead:
            self._pipes.discard(pipe)

    def _call(self, fn: Any) -> None:
        async def run() -> None:
            fn()

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def cut(self) -> None:
        def do() -> None:
            self.cut_now = True
            for pipe in list(self._pipes):
                pipe.abort()
            self._pipes.clear()

        self._call(do)

    def restore(self) -> None:
        def do() -> None:
            self.cut_now = False

        self._call(do)

    def black_hole(self) -> None:
        def do() -> None:
            self.holed = True
            for pipe in self._pipes:
                pipe.dead = True

        self._call(do)

    def heal(self) -> None:
        def do() -> None:
            self.holed = False

        self._call(do)

    def stop(self) -> None:
        def do() -> None:
            self.cut_now = True
            for pipe in list(self._pipes):
                pipe.abort()
            self._pipes.clear()
            if self._server is not None:
                self._server.close()

        with contextlib.suppress(Exception):
            self._call(do)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
