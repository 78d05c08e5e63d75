"""ARQ worker settings: one worker for payments (short timeouts), one for everything else.

`ticketing worker` runs both in one process; production can scale each as its own service.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any, ClassVar

import structlog
from arq import cron
from arq.constants import in_progress_key_prefix
from arq.worker import Worker, func
from redis.exceptions import RedisError

from backend_jobs.cancellation import cancel_event_refunds, resume_cancellations
from backend_jobs.maintenance import (
    erase_expired_personal_data,
    expire_orders,
    offer_waitlist,
    report_overdue,
)
from backend_jobs.payments import process_payment
from backend_jobs.provider import SimulatedProvider
from backend_jobs.scheduled_audit import audit_cron, export_latest
from ticketing_app.bootstrap import Runtime, create_runtime, set_runtime
from ticketing_app.clients.job_queue import (
    JOBS_QUEUE,
    PAYMENTS_QUEUE,
    arq_script,
    deserialize,
    redis_settings,
    serialize,
    worker_redis,
)
from ticketing_app.observability import metrics
from ticketing_app.observability.tracing import configure_tracing
from ticketing_app.services.housekeeping import sweeper_loop, waiting_room_loop
from ticketing_app.settings import Settings, get_settings

log = structlog.get_logger(__name__)


async def on_startup(ctx: dict[str, Any]) -> None:
    if "rt" in ctx:
        return  # arq's loop restarted after a Redis error (keep_polling): already set up
    configure_tracing("ticketing-worker")
    rt = await create_runtime(ctx.get("settings"))
    set_runtime(rt)
    ctx["rt"] = rt
    ctx["provider"] = SimulatedProvider(rt.jobs_redis, rt.settings, random.Random())
    ctx["stop"] = asyncio.Event()
    if ctx.get("run_sweeper"):
        s = rt.settings
        ctx["sweeper"] = asyncio.create_task(
            sweeper_loop(rt.holds, s.hold_sweep_interval_ms / 1000, ctx["stop"]), name="sweeper")
        ctx["pacer"] = asyncio.create_task(
            waiting_room_loop(rt.waiting, s.waiting_room_tick_ms / 1000, ctx["stop"]),
            name="waiting-room")


async def on_shutdown(ctx: dict[str, Any]) -> None:
    ctx["stop"].set()
    for name in ("sweeper", "pacer"):
        task = ctx.get(name)
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5)
    await ctx["rt"].close()


class ScriptedWorker(Worker):
    """arq's worker, starting a poll's jobs with one script (arq_lua/start.lua) instead of
    four round trips per job; the same checks (still queued, not running elsewhere), the same
    in-progress key and the same concurrency bound (`max_jobs`)."""

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        start = arq_script(self.pool, "start")
        waiting = [j.decode() for j in job_ids]
        while waiting:
            await self.sem.acquire()  # like arq: wait for room for the next job
            batch = [waiting.pop(0)]
            while waiting and not self.sem.locked():
                await self.sem.acquire()  # room now: no wait
                batch.append(waiting.pop(0))
            try:
                scores = await start(
                    keys=[self.queue_name, *(in_progress_key_prefix + j for j in batch)],
                    args=[int(self.in_progress_timeout_s * 1000), *batch])
            except BaseException:  # Redis away: the room taken for the batch is given back
                for _ in batch:
                    self.sem.release()
                raise
            for job_id, score in zip(batch, scores, strict=True):
                if not score:  # finished and removed, or running elsewhere
                    self.sem.release()
                    continue
                task = self.loop.create_task(self.run_job(job_id, int(float(score))))
                task.add_done_callback(lambda _: self.sem.release())
                self.tasks[job_id] = task


def _every_second() -> set[int]:
    return set(range(60))


class PaymentWorkerSettings:
    functions: ClassVar = [
        func(process_payment, name="process_payment", timeout=get_settings().payment_job_timeout_s,
             max_tries=get_settings().payment_job_max_tries),
    ]
    queue_name = PAYMENTS_QUEUE
    on_startup = on_startup
    on_shutdown = on_shutdown
    job_serializer = serialize
    job_deserializer = deserialize
    poll_delay = 0.02
    max_jobs = 200
    job_timeout = get_settings().payment_job_timeout_s
    # Nobody reads a payment job's result (the outcome is the payment row, announced on
    # pub/sub), and the recovery deleted it before re-enqueueing anyway: not stored.
    keep_result = 0
    handle_signals = False


class JobsWorkerSettings:
    functions: ClassVar[list[Any]] = [
        func(cancel_event_refunds, name="cancel_event_refunds", timeout=120, max_tries=20),
    ]
    cron_jobs: ClassVar = [cron(expire_orders, second=_every_second(), run_at_startup=True,
                                unique=True, timeout=30),
                           cron(resume_cancellations, second=set(range(0, 60, 2)),
                                run_at_startup=True, unique=True, timeout=30),
                           cron(erase_expired_personal_data, hour={3}, minute={17},
                                run_at_startup=True, unique=True, timeout=300),
                           cron(offer_waitlist, second=_every_second(), unique=True,
                                timeout=30)]
    queue_name = JOBS_QUEUE
    on_startup = on_startup
    on_shutdown = on_shutdown
    job_serializer = serialize
    job_deserializer = deserialize
    poll_delay = 0.2
    max_jobs = 20
    job_timeout = 600
    keep_result = 3600
    handle_signals = False


def build_worker(cls: type, settings: Settings, **ctx: Any) -> Worker:
    """An arq worker for `cls`, built inside the loop that will run it: arq 0.25 binds
    `asyncio.get_event_loop()` when a Worker is constructed and creates every job's task on
    that loop. Outside a running loop that is whatever loop the thread happens to hold (none
    at all once an `asyncio.run()` has ended in it), so this refuses to be called there."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError("build_worker must be called inside the running event loop "
                           "that will run the worker (arq binds it at construction)") from None
    kwargs = {k: v for k, v in vars(cls).items() if not k.startswith("_")}
    if cls is JobsWorkerSettings:  # the audit's schedule is a setting, read here
        kwargs["cron_jobs"] = [*kwargs["cron_jobs"], *audit_cron(settings)]
    return ScriptedWorker(redis_settings=redis_settings(settings),
                  redis_pool=worker_redis(settings, kwargs["queue_name"]),
                  ctx={"settings": settings, **ctx}, **kwargs)


async def report_queue_depth(rt: Runtime, stop: asyncio.Event) -> None:
    """Keeps the worker's gauges current, every METRICS_INTERVAL_S: jobs waiting (queued or
    deferred) per queue (`tk_job_queue_depth`), work past its payment deadline
    (`tk_payments_past_deadline`, `tk_orders_past_deadline`) and the latest scheduled audit's
    result (`tk_audit_*`). Each part fails alone: a database outage leaves the queue depth."""
    while not stop.is_set():
        with contextlib.suppress(Exception):
            for label, queue in (("payments", PAYMENTS_QUEUE), ("jobs", JOBS_QUEUE)):
                metrics.JOB_QUEUE_DEPTH.labels(queue=label).set(await rt.jobs_redis.zcard(queue))
        with contextlib.suppress(Exception):
            await report_overdue(rt)
        with contextlib.suppress(Exception):
            await export_latest(await rt.queue.arq())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rt.settings.metrics_interval_s)


async def drain(workers: list[Worker], grace_s: float) -> None:
    """Graceful stop: pick no new jobs, let running ones finish (up to `grace_s`), then stop.
    A job cut off at the deadline is retried by another worker once its in-progress key
    expires (jobs are idempotent)."""
    for w in workers:
        w.allow_pick_jobs = False
    running = [job_id for w in workers for job_id, t in w.tasks.items() if not t.done()]
    log.info("worker_draining", running_jobs=len(running),
             running_payments=sum(j.startswith("pay:") for j in running), grace_s=grace_s)
    deadline = asyncio.get_running_loop().time() + grace_s
    while any(not t.done() for w in workers for t in w.tasks.values()):
        if asyncio.get_running_loop().time() >= deadline:
            log.warning("worker_drain_timeout", unfinished=sum(
                not t.done() for w in workers for t in w.tasks.values()))
            break
        await asyncio.sleep(0.05)


async def keep_polling(worker: Worker) -> None:
    """arq's poll loop, started again after a Redis error ends it. arq lets some of them out of
    its loop (a timeout inside the WATCH of `start_jobs`, an error while finishing a job), and a
    worker that died on a Redis that went silent for a few seconds would leave its payments to
    an orchestrator's restart. The jobs it runs go on meanwhile; its client (worker_redis)
    waits for Redis before the loop polls again."""
    while True:
        try:
            await worker.async_run()
            return
        except (RedisError, OSError) as exc:
            log.warning("worker_loop_restarted", queue=worker.queue_name,
                        error=str(exc)[:200] or type(exc).__name__)
            await asyncio.sleep(1)


async def run_workers(settings: Settings | None = None, payments: bool = True,
                      jobs: bool = True, stop: asyncio.Event | None = None) -> None:
    """Both workers in one process. Setting `stop` (SIGTERM/SIGINT) drains running jobs
    (up to SHUTDOWN_GRACE_S), then stops."""
    settings = settings or get_settings()
    workers = []
    if payments:
        workers.append(build_worker(PaymentWorkerSettings, settings, run_sweeper=True))
    if jobs:
        workers.append(build_worker(JobsWorkerSettings, settings, run_sweeper=not payments))
    runs = [asyncio.create_task(keep_polling(w), name="arq-worker") for w in workers]
    stopper = asyncio.create_task((stop or asyncio.Event()).wait())
    try:
        done, _ = await asyncio.wait([*runs, stopper], return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t is not stopper:
                t.result()  # a worker died: surface why
        await drain(workers, settings.shutdown_grace_s)
    finally:
        stopper.cancel()
        for w in workers:
            # Bounded: the worker's Redis client waits for Redis for ever (worker_redis), and
            # closing writes to it; a stop while Redis is away must still end.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(w.close(), 5)  # cancels what outlived the grace
        for t in runs:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
