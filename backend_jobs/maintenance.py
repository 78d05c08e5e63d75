"""The worker's periodic jobs: cancel orders whose payment window ended, recover payments
whose job was lost, and offer freed seats to the waitlists. (The hold sweeper runs in every
serving process: `services/housekeeping.py`.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from arq.constants import result_key_prefix
from sqlalchemy import func, select
from sqlmodel import col

from ticketing_app.bootstrap import Runtime
from ticketing_app.clients.job_queue import enqueue_payment, payment_job_id
from ticketing_app.db.models import Order, Payment
from ticketing_app.domain.orders import OrderStatus, PaymentStatus
from ticketing_app.observability import metrics

log = structlog.get_logger(__name__)


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
    arq = await rt.queue.arq()
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


async def report_overdue(rt: Runtime) -> tuple[int, float, int]:
    """Sets the past-deadline gauges: (PENDING payments whose order's payment window ended,
    seconds the most overdue of them is past it, CREATED orders past their window with no
    payment running). A payment finishing a little late is normal; one still pending minutes
    later, or orders the expiry job leaves, are what the alert rules look for."""
    now = datetime.now(UTC)
    running = (select(col(Payment.id))
               .where(col(Payment.order_id) == col(Order.id),
                      col(Payment.status) == PaymentStatus.PENDING.value)
               .exists())
    async with rt.db.read_sessions() as s:
        n_payments, oldest = (await s.execute(
            select(func.count(col(Payment.id)), func.min(col(Order.payment_deadline)))
            .join(Order, col(Order.id) == col(Payment.order_id))
            .where(col(Payment.status) == PaymentStatus.PENDING.value,
                   col(Order.payment_deadline) < now))).one()
        n_orders = (await s.execute(
            select(func.count(col(Order.id)))
            .where(col(Order.status) == OrderStatus.CREATED.value,
                   col(Order.payment_deadline) < now, ~running))).scalar_one()
    age = 0.0
    if oldest is not None:
        age = max(0.0, (now - (oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC))
                        ).total_seconds())
    metrics.PAYMENTS_PAST_DEADLINE.set(int(n_payments))
    metrics.PAYMENTS_PAST_DEADLINE_AGE.set(age)
    metrics.ORDERS_PAST_DEADLINE.set(int(n_orders))
    return int(n_payments), age, int(n_orders)

async def erase_expired_personal_data(ctx: dict[str, Any]) -> int:
    """Daily (and at start): buyers' names and addresses past PERSONAL_DATA_RETENTION_DAYS
    after their event are erased (services/order_access.py). Idempotent."""
    rt: Runtime = ctx["rt"]
    return await rt.order_access.erase_expired()

async def offer_waitlist(ctx: dict[str, Any]) -> int:
    """Freed seats of sold-out events go to the next in line (services/waitlist.py)."""
    rt: Runtime = ctx["rt"]
    n = await rt.waitlist.offer_freed_seats()
    if n:
        log.info("waitlist_offers", count=n)
    return n
