"""The job queue (ARQ): queue names, serialization, and `JobQueue`, the adapter the services
that enqueue are given (payments, event cancellation). The workers in `backend_jobs/` run the
jobs; this side only puts them on the queue, so the services stay below the jobs.

ARQ has no Redis Cluster support: its queues live on the jobs Redis (JOBS_REDIS_URL, a plain
Redis; REDIS_URL itself when that is not a cluster).

Payments have a queue and a worker of their own with short timeouts: ARQ's in-progress key
lives as long as the worker's longest job timeout, so a killed payment job is picked up again
within seconds, not minutes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

import msgpack
from arq.connections import ArqRedis, RedisSettings
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ticketing_app.clients.lua_scripts import RoutedScript, lua_source, register
from ticketing_app.clients.redis_client import redis_connection_options, require_url
from ticketing_app.settings import Settings

PAYMENTS_QUEUE = "tk:queue:payments"
JOBS_QUEUE = "tk:queue:jobs"
# arq's enqueue and job start, each as one script (arq_lua/): the same checks as arq's
# WATCH/MULTI sequences in one round trip each instead of three and four.
ARQ_LUA = Path(__file__).parent / "arq_lua"


def arq_script(arq: ArqRedis, name: str) -> RoutedScript:
    return register(arq, lua_source(ARQ_LUA, name))


def serialize(obj: Any) -> bytes:
    return msgpack.packb(obj, datetime=True)  # type: ignore[no-any-return]


def deserialize(data: bytes) -> Any:
    return msgpack.unpackb(data, timestamp=3)


def jobs_url(settings: Settings) -> str:
    """ARQ's Redis: a plain one (JOBS_REDIS_URL, or REDIS_URL when that is no cluster)."""
    return require_url(settings.effective_jobs_redis_url,
                       "JOBS_REDIS_URL" if settings.redis_is_cluster else "REDIS_URL")


def redis_settings(settings: Settings) -> RedisSettings:
    return RedisSettings.from_dsn(jobs_url(settings))


def arq_redis(settings: Settings, queue: str = JOBS_QUEUE, retries: int = 1,
              retry_on: tuple[type[RedisError], ...] = (RedisConnectionError,)) -> ArqRedis:
    """An ARQ client with the bounds every Redis client has (connect, each answer, keepalive,
    health checks: REDIS_*_TIMEOUT_S). A command that met one of `retry_on` is tried again on
    a fresh connection up to `retries` times (-1: until Redis answers), with a backoff of at
    most 1 s. arq's own `create_pool` sets no answer timeout: on a silent Redis it waited for
    ever."""
    retry = Retry(ExponentialBackoff(cap=1.0, base=0.1), retries, retry_on)
    pool = ConnectionPool.from_url(jobs_url(settings), retry=retry,
                                   **redis_connection_options(settings))
    return ArqRedis(pool, job_serializer=serialize, job_deserializer=deserialize,
                    default_queue_name=queue)


async def create_arq_pool(settings: Settings) -> ArqRedis:
    """The enqueuing side (the API): a connection Redis reset (a restart) is replaced once;
    a silent Redis fails the request after REDIS_SOCKET_TIMEOUT_S (enqueueing is idempotent by
    job id, so the retry is safe)."""
    return arq_redis(settings)


def worker_redis(settings: Settings, queue: str) -> ArqRedis:
    """A worker's own poll loop waits for Redis, however long it is away, instead of dying: a
    timed-out or refused command is tried again until Redis answers."""
    return arq_redis(settings, queue, retries=-1,
                     retry_on=(RedisConnectionError, RedisTimeoutError))


def payment_job_id(payment_id: int) -> str:
    return f"pay:{payment_id}"


async def enqueue(arq: ArqRedis, function: str, args: tuple[Any, ...], job_id: str | None,
                  queue: str) -> bool:
    """arq's `enqueue_job` for a job to run now, in one round trip (arq_lua/enqueue.lua): the
    job as arq serializes it, kept as long as arq keeps one. False when the id is already
    queued, running or has a result."""
    job_id = job_id or uuid4().hex
    now = timestamp_ms()
    job = serialize_job(function, args, {}, None, now, serializer=arq.job_serializer)
    added = await arq_script(arq, "enqueue")(
        keys=[job_key_prefix + job_id, result_key_prefix + job_id, queue],
        args=[arq.expires_extra_ms, job, job_id, now])
    return bool(added)


async def enqueue_payment(arq: ArqRedis, payment_id: int, traceparent: str = "") -> None:
    """The job id makes enqueueing idempotent: a second enqueue of a queued job is a no-op."""
    await enqueue(arq, "process_payment", (payment_id, traceparent),
                  payment_job_id(payment_id), PAYMENTS_QUEUE)


async def enqueue_job(arq: ArqRedis, name: str, *args: Any, job_id: str | None = None) -> None:
    await enqueue(arq, name, args, job_id, JOBS_QUEUE)


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
