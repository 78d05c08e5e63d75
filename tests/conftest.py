"""Shared fixtures: every test session starts its own services on free ports (Valkey, the
Kafka-protocol broker, a fresh SQLite file and a fresh PostgreSQL database), runs the real
processes (API, worker, relay, consumers) against them, and tears everything down."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio

from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.settings import Settings, to_async_url
from ticketing_app.stack import Stack

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = [b for b in os.environ.get("TEST_DB_BACKENDS", "sqlite,postgres").split(",") if b]

# Fast, deterministic payments for tests; individual tests force outcomes through the
# simulator's control key (see backend_jobs/provider.py).
TEST_ENV = {
    "PAYMENT_LATENCY_MIN_MS": "5",
    "PAYMENT_LATENCY_MAX_MS": "30",
    "PAYMENT_SYNC_WAIT_S": "30",
    "HOLD_SWEEP_INTERVAL_MS": "100",
    "OUTBOX_POLL_INTERVAL_MS": "100",
    "RATE_LIMIT_HOLDS_PER_MINUTE": "100000",
    "RATE_LIMIT_IP_PER_MINUTE": "0",
    "RATE_LIMIT_BUYERS_PER_MINUTE": "0",
    "LOG_LEVEL": "INFO",
    "ARGON2_PROFILE": "CHEAPEST",  # admin password hashing: fast in tests, strong by default
    "DB_POOL_SIZE": "5",  # several test sessions share the machine's PostgreSQL
}


def create_pg_database() -> str:
    name = f"tk_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return to_async_url(f"{base}/{name}")


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_database_url(backend: str, tmp_dir: Any) -> str:
    if backend == "postgres":
        return create_pg_database()
    return f"sqlite+aiosqlite:///{tmp_dir}/ticketing-{uuid.uuid4().hex[:8]}.db"


@dataclass
class Env:
    """One running stack and clients for it."""

    backend: str
    stack: Stack
    rt: Runtime
    api_url: str

    def client(self, buyer: str | None = None, **kw: Any) -> httpx.AsyncClient:
        headers = {"X-Caller-Id": buyer} if buyer else {}
        return httpx.AsyncClient(base_url=self.api_url, headers=headers, timeout=30, **kw)

    async def new_event(self, rows: int = 5, cols: int = 10, **settings: Any) -> int:
        from ticketing_app.services.admin import GridSpec, TierSpec

        venue = await self.rt.admin.create_venue("test", f"Hall {uuid.uuid4().hex[:6]}",
                                                 [GridSpec("Main", rows, cols)])
        tiers = settings.pop("tiers", None) or [TierSpec("Standard", 50000)]
        status = settings.pop("status", "ON_SALE")
        ev = await self.rt.admin.create_event(
            "test", title=f"Event {uuid.uuid4().hex[:6]}",
            starts_at=datetime.now(UTC) + timedelta(days=7), venue_id=int(venue.id or 0),
            tiers=tiers, status=status, **settings)
        return int(ev.id or 0)

    async def seat_ids(self, event_id: int) -> list[int]:
        layout = await self.rt.catalog.layout(event_id, fresh=True)
        return [s.id for s in layout.seats]

    async def set_provider_mode(self, mode: str | None) -> None:
        from backend_jobs.provider import MODE_KEY

        if mode:
            await self.rt.redis.set(MODE_KEY, mode)
        else:
            await self.rt.redis.delete(MODE_KEY)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[Any]:
    """A local mail server; the stack's consumers deliver buyers' mail to it (SMTP_URL)."""
    from tests.smtp_sink import SmtpSink

    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="session")
def stack(backend: str, tmp_path_factory: pytest.TempPathFactory,
          smtp_sink: Any) -> Iterator[Stack]:
    url = make_database_url(backend, tmp_path_factory.mktemp(backend))
    st = Stack(database_url=url,
               extra_env={**TEST_ENV, "SMTP_URL": smtp_sink.url}).start_services()
    try:
        st.migrate()
        st.start_api()
        st.start_process("worker")
        st.start_process("relay")
        st.start_process("consumers")
        yield st
    finally:
        st.stop()
        if backend == "postgres":
            drop_pg_database(url)


def _session_stack(item: pytest.Item) -> Any:
    """The session-scoped `stack` fixture this test runs on (None: it needs none, or its module
    brings a `stack` of its own)."""
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.get("stack") if info is not None else None
    return defs[-1] if defs and defs[-1].scope == "session" else None


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stops the session's stack after the last test that runs on it, not at the very end of
    the session: pytest runs those tests first (grouped by backend), and the stack's idle
    processes (API, worker, relay, consumers, a web process) would otherwise keep polling
    through every later module's own stacks and the browser tests on this 2-core machine.
    A test that needed it again later would simply start it again."""
    fixturedef = _session_stack(item)
    if fixturedef is None or fixturedef.cached_result is None:
        return
    if nextitem is not None and _session_stack(nextitem) is fixturedef:
        return
    items = item.session.items
    later = items[items.index(item) + 1:] if item in items else []
    if any(_session_stack(it) is fixturedef for it in later):
        return
    fixturedef.finish(item._request)  # type: ignore[attr-defined]


@pytest_asyncio.fixture(scope="session")
async def env(stack: Stack, backend: str) -> AsyncIterator[Env]:
    settings = Settings(**{k.lower(): v for k, v in stack.env().items()
                           if k.lower() in Settings.model_fields})
    rt = await create_runtime(settings)
    try:
        yield Env(backend, stack, rt, f"http://127.0.0.1:{stack.procs['api'].port}")
    finally:
        await rt.close()


@pytest_asyncio.fixture
async def provider(env: Env) -> AsyncIterator[Env]:
    """Resets the simulated provider's forced outcome after the test."""
    yield env
    await env.set_provider_mode(None)
