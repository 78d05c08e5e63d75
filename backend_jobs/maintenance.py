"""Periodic work: expire holds (so every viewer sees them freed without anyone clicking),
cancel orders whose payment window ended, and recover payments whose job was lost."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from arq.constants import result_key_prefix
from sqlalchemy import select
from sqlmodel import col

from backend_jobs.queues import enqueue_payment, payment_job_id
from ticketing_app.db.models import Payment
from ticketing_app.domain.orders import PaymentStatus
from ticketing_app.observability import metrics
from ticketing_app.runtime import Runtime

log = structlog.get_logger(__name__)


async def sweep_once(rt: Runtime) -> int:
    released = 0
    for event_id in await rt.holds.active_events():
        n, lapsed_tokens = await rt.holds.sweep(event_id)
        released += n
        if lapsed_tokens:
            log.info("order_locks_lapsed", event_id=event_id, orders=len(lapsed_tokens))
    if released:
        metrics.HOLDS_EXPIRED.inc(released)
    return released


async def sweeper_loop(rt: Runtime, stop: asyncio.Event | None = None) -> None:
    """Runs in the worker and in every web process; the script is atomic, so several
    sweepers never double-release."""
    interval = rt.settings.hold_sweep_interval_ms / 1000
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await sweep_once(rt)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis down for a moment: keep trying
            log.warning("sweep_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


async def recover_payments(rt: Runtime) -> int:
    """A PENDING payment whose job vanished (queue lost with Redis) is enqueued again; the job
    id keeps it single, and the provider's idempotency keeps the charge single. One that has
    been pending far longer than any job could run is timed out and compensated."""
    s = rt.settings
    now = datetime.now(UTC)
    requeue_after = timedelta(seconds=s.payment_job_timeout_s + 5)
    give_up_after = timedelta(seconds=s.payment_job_timeout_s * (s.payment_job_max_tries + 1) + 30)
    async with rt.db.read_sessions() as session:
        stale = list((await session.execute(
            select(Payment).where(col(Payment.status) == PaymentStatus.PENDING.value,
                                  col(Payment.created_at) < now - requeue_after)
            .order_by(col(Payment.id)).limit(200))).scalars())
    arq = await rt.arq()
    n = 0
    for p in stale:
        created = p.created_at if p.created_at.tzinfo else p.created_at.replace(tzinfo=UTC)
        if now - created > give_up_after:
            status = await rt.orders.apply_payment_failure(
                int(p.id or 0), PaymentStatus.TIMED_OUT, "payment job never finished")
            await rt.payments.announce(int(p.id or 0), status)
        else:
            # A job that ended without settling (it failed, or its data was lost with Redis)
            # leaves ARQ's result under the job id for keep_result seconds, which would make
            # this enqueue a no-op; the payment still being PENDING says that result is void.
            # A job still queued or running keeps its own key, so the enqueue stays single.
            await arq.delete(result_key_prefix + payment_job_id(int(p.id or 0)))
            await enqueue_payment(arq, int(p.id or 0), p.traceparent)
        n += 1
    return n


async def expire_orders(ctx: dict[str, Any]) -> int:
    rt: Runtime = ctx["rt"]
    n = await rt.orders.expire_overdue()
    await recover_payments(rt)
    if n:
        log.info("orders_expired", count=n)
    return n
