"""The job queue (ARQ): queue names, serialization, and `JobQueue`, the adapter the services
that enqueue are given (payments, event cancellation). The workers in `backend_jobs/` run the
jobs; this side only puts them on the queue, so the services stay below the jobs.

Payments have a queue and a worker of their own with short timeouts: ARQ's in-progress key
lives as long as the worker's longest job timeout, so a killed payment job is picked up again
within seconds, not minutes.
"""

from __future__ import annotations

from typing import Any

import msgpack
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from ticketing_app.settings import Settings

PAYMENTS_QUEUE = "tk:queue:payments"
JOBS_QUEUE = "tk:queue:jobs"


def serialize(obj: Any) -> bytes:
    return msgpack.packb(obj, datetime=True)  # type: ignore[no-any-return]


def deserialize(data: bytes) -> Any:
    return msgpack.unpackb(data, timestamp=3)


def redis_settings(settings: Settings) -> RedisSettings:
    return RedisSettings.from_dsn(settings.redis_url)


async def create_arq_pool(settings: Settings) -> ArqRedis:
    return await create_pool(redis_settings(settings), job_serializer=serialize,
                             job_deserializer=deserialize, default_queue_name=JOBS_QUEUE)


def payment_job_id(payment_id: int) -> str:
    return f"pay:{payment_id}"


async def enqueue_payment(arq: ArqRedis, payment_id: int, traceparent: str = "") -> None:
    """The job id makes enqueueing idempotent: a second enqueue of a queued job is a no-op."""
    await arq.enqueue_job("process_payment", payment_id, traceparent,
                          _job_id=payment_job_id(payment_id), _queue_name=PAYMENTS_QUEUE)


async def enqueue_job(arq: ArqRedis, name: str, *args: Any, job_id: str | None = None) -> None:
    await arq.enqueue_job(name, *args, _job_id=job_id, _queue_name=JOBS_QUEUE)


class JobQueue:
    """Enqueueing, with the ARQ client made on first use (most processes never enqueue)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._arq: ArqRedis | None = None

    async def arq(self) -> ArqRedis:
        if self._arq is None:
            self._arq = await create_arq_pool(self.settings)
        return self._arq

    async def enqueue_payment(self, payment_id: int, traceparent: str = "") -> None:
        await enqueue_payment(await self.arq(), payment_id, traceparent)

    async def enqueue_job(self, name: str, *args: Any, job_id: str | None = None) -> None:
        await enqueue_job(await self.arq(), name, *args, job_id=job_id)

    async def close(self) -> None:
        if self._arq is not None:
            await self._arq.aclose()
