"""Dependency checks behind `/actuator/health`, shared by the web/API process and the
worker, relay and consumer processes (their ops endpoint).

Each process lists its dependencies as probes; `required` ones decide readiness, the others
are reported so an operator sees the whole picture. The web app needs the database and Redis
(a Kafka outage must not stop sales: the outbox buffers); the relay and the consumers need
Kafka; the worker needs Redis (its queue) and the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlmodel import col

from ticketing_app.clients.kafka_client import KafkaClients
from ticketing_app.db.engine import Database
from ticketing_app.db.models import OutboxEvent
from ticketing_app.observability import metrics
from ticketing_app.settings import Settings

if TYPE_CHECKING:
    from aiokafka.admin import AIOKafkaAdminClient

CHECK_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Probe:
    name: str
    check: Callable[[], Awaitable[dict[str, Any] | None]]  # raises when the dependency is down
    required: bool = True


async def _run(probe: Probe, timeout: float) -> dict[str, Any]:
    try:
        details = await asyncio.wait_for(probe.check(), timeout)
        result: dict[str, Any] = {"status": "UP", **(details or {})}
    except Exception as exc:
        result = {"status": "DOWN", "error": f"{type(exc).__name__}: {exc}"[:200]}
    if not probe.required:
        result["required"] = False
    metrics.DEPENDENCY_UP.labels(dependency=probe.name).set(result["status"] == "UP")
    return result


async def health_report(probes: list[Probe], timeout: float = CHECK_TIMEOUT_S
                        ) -> tuple[bool, dict[str, Any]]:
    """(ready, Spring-style body `{status, components: {name: {status, ...}}}`)."""
    results = await asyncio.gather(*(_run(p, timeout) for p in probes))
    components = {p.name: r for p, r in zip(probes, results, strict=True)}
    ready = all(r["status"] == "UP" for p, r in zip(probes, results, strict=True)
                if p.required)
    return ready, {"status": "UP" if ready else "DOWN", "components": components}


# ---- the probes -------------------------------------------------------------------------
def db_probe(db: Database, required: bool = True) -> Probe:
    async def check() -> None:
        async with db.read_sessions() as s:
            await s.execute(text("SELECT 1"))

    return Probe("db", check, required)


def redis_probe(redis: Redis, required: bool = True) -> Probe:
    async def check() -> None:
        await redis.ping()  # type: ignore[misc]

    return Probe("redis", check, required)


def outbox_probe(db: Database) -> Probe:
    """Informational: what the outbox is holding back while Kafka or the relay is away."""

    async def check() -> dict[str, Any]:
        async with db.read_sessions() as s:
            n, oldest = (await s.execute(
                select(func.count(), func.min(OutboxEvent.created_at))
                .where(col(OutboxEvent.status) == "PENDING"))).one()
        lag = 0.0
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            lag = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        return {"backlog": int(n), "lagSeconds": round(lag, 3)}

    return Probe("outbox", check, required=False)


class KafkaProbe:
    """Asks the broker for its topics through one long-lived admin client (re-created after a
    failure); answers are cached for a second so probe storms do not reach the broker."""

    CACHE_S = 1.0

    def __init__(self, settings: Settings):
        self.settings = settings
        self._admin: AIOKafkaAdminClient | None = None
        self._last: tuple[float, dict[str, Any] | None, BaseException | None] | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> dict[str, Any] | None:
        async with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < self.CACHE_S:
                if self._last[2] is not None:
                    raise self._last[2]
                return self._last[1]
            try:
                details = await self._ask()
            except Exception as exc:
                self._last = (now, None, exc)
                await self.close()
                raise
            self._last = (now, details, None)
            return details

    async def _ask(self) -> dict[str, Any]:
        if self._admin is None:
            admin = KafkaClients(self.settings).admin(int(CHECK_TIMEOUT_S * 1000))
            await admin.start()
            self._admin = admin
        topics = await self._admin.list_topics()
        return {"topic": self.settings.kafka_topic,
                "topicExists": self.settings.kafka_topic in topics}

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()

    def probe(self, required: bool = True) -> Probe:
        return Probe("kafka", self.check, required)


def web_probes(db: Database, redis: Redis) -> list[Probe]:
    return [db_probe(db), redis_probe(redis)]
