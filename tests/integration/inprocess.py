"""The platform's parts driven inside the test process (the API app through ASGI, an ARQ
payment worker, the relay and a consumer runner) against real services of their own, for
tests that must see every part at once: the trace chain, the logs."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from arq.worker import Worker, func
from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession

from backend_jobs.consumers import ConsumerRunner, ConsumerSpec
from backend_jobs.payments import process_payment
from backend_jobs.provider import SimulatedProvider
from backend_jobs.relay import OutboxRelay
from tests.integration.helpers import eventually
from ticketing_app.api import deps
from ticketing_app.api.app import create_api
from ticketing_app.bootstrap import Runtime
from ticketing_app.clients.job_queue import (
    PAYMENTS_QUEUE,
    deserialize,
    redis_settings,
    serialize,
)
from ticketing_app.domain.events import Envelope


@dataclass
class InProcess:
    rt: Runtime
    app: FastAPI

    def client(self, buyer: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                 base_url="http://test", headers={"X-Caller-Id": buyer},
                                 timeout=30)


@contextlib.asynccontextmanager
async def in_process(rt: Runtime) -> AsyncIterator[InProcess]:
    """The API app bound to `rt`, with a payment worker running in this event loop."""
    app = create_api()
    app.dependency_overrides[deps.runtime] = lambda: rt
    worker = Worker(
        functions=[func(process_payment, name="process_payment", timeout=10, max_tries=3)],
        queue_name=PAYMENTS_QUEUE, redis_settings=redis_settings(rt.settings),
        ctx={"rt": rt, "provider": SimulatedProvider(rt.jobs_redis, rt.settings, random.Random(1))},
        job_serializer=serialize, job_deserializer=deserialize, poll_delay=0.02,
        handle_signals=False)
    task = asyncio.create_task(worker.async_run())
    try:
        yield InProcess(rt, app)
    finally:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await worker.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def relay_everything(rt: Runtime, timeout: float = 20.0) -> None:
    """Run the real relay until no outbox row is pending."""
    from sqlalchemy import func, select

    from ticketing_app.db.models import OutboxEvent

    async def pending() -> int:
        async with rt.db.read_sessions() as s:
            return int((await s.execute(select(func.count()).select_from(OutboxEvent).where(
                OutboxEvent.status == "PENDING"))).scalar_one())  # type: ignore[arg-type]

    async def drained() -> bool:
        return await pending() == 0

    relay = OutboxRelay(rt)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(drained, timeout=timeout, interval=0.05)
    finally:
        relay.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 10)


async def consume_until(rt: Runtime, name: str,
                        handler: Callable[[AsyncSession, Envelope], Awaitable[None]],
                        done: Callable[[], bool], timeout: float = 20.0) -> None:
    """Run a real consumer (own group `name`) until `done()` says the handler saw enough."""
    async def finished() -> bool:
        return done()

    runner = ConsumerRunner(rt, ConsumerSpec(name, handler))
    task = asyncio.create_task(runner.run())
    try:
        await eventually(finished, timeout=timeout, interval=0.05)
    finally:
        runner.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 10)


def stack_settings(env: dict[str, str], **overrides: Any) -> Any:
    from ticketing_app.settings import Settings

    values = {k.lower(): v for k, v in env.items() if k.lower() in Settings.model_fields}
    values.update(overrides)
    return Settings(**values)
