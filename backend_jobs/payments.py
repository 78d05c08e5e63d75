"""The payment job and the saga around it.

process_payment runs once or more per payment (ARQ retries rather than loses): every step is
guarded, so a repeat changes nothing. Success sells the seats (or, for a late payment whose
seats are gone, refunds); failure or a provider timeout compensates: order cancelled, seats
released, events emitted.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from arq import Retry
from opentelemetry.trace import SpanKind
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from backend_jobs.provider import SimulatedProvider
from ticketing_app.bootstrap import Runtime
from ticketing_app.db.models import Payment
from ticketing_app.domain.orders import PaymentStatus
from ticketing_app.observability import metrics
from ticketing_app.observability.tracing import span_from_traceparent

log = structlog.get_logger(__name__)

# Failures of a dependency rather than of the payment: the job is retried. A database that
# stopped answering raises asyncpg's own TimeoutError (DB_COMMAND_TIMEOUT_S), unwrapped.
TRANSIENT = (RedisConnectionError, RedisTimeoutError, OperationalError, InterfaceError,
             PoolTimeout, ConnectionError, TimeoutError)


async def process_payment(ctx: dict[str, Any], payment_id: int, traceparent: str = "") -> str:
    """The ARQ job: continues the HTTP request's trace (its `traceparent` argument)."""
    start = time.perf_counter()
    result = "ERROR"
    try:
        with span_from_traceparent("payment.process", traceparent, kind=SpanKind.CONSUMER,
                                   payment_id=payment_id):
            status, repeat = await _process(ctx, payment_id)
        result = "REPEAT" if repeat else status
        return status
    except TRANSIENT as exc:
        # Redis or the database went away mid-job (a restart, a failover). ARQ does not retry
        # a job that raised, and its stored failure keeps the recovery from re-enqueueing the
        # same job id for a minute: ask for a retry (every step is idempotent).
        result = "RETRY"
        log.warning("payment_job_retry", payment_id=payment_id, try_=ctx.get("job_try"),
                    error=str(exc)[:200])
        raise Retry(defer=1) from exc
    finally:
        metrics.JOBS.labels(job="process_payment", result=result).inc()
        metrics.JOB_LATENCY.labels(job="process_payment").observe(time.perf_counter() - start)


async def _process(ctx: dict[str, Any], payment_id: int) -> tuple[str, bool]:
    """(the payment's status, whether an earlier run had already settled it).
    Order/payment/compensation metrics are counted when their transaction commits."""
    rt: Runtime = ctx["rt"]
    provider: SimulatedProvider = ctx["provider"]
    async with rt.db.read_sessions() as s:
        payment = await s.get(Payment, payment_id)
    if payment is None:
        log.warning("payment_missing", payment_id=payment_id)
        return "MISSING", False
    if payment.status != PaymentStatus.PENDING.value:
        if payment.status in (PaymentStatus.FAILED.value, PaymentStatus.TIMED_OUT.value):
            # The run before may have died between the compensation's commit and its Redis
            # release: the repeat finishes the release (a no-op when it had happened).
            await rt.orders.apply_payment_failure(
                payment_id, PaymentStatus(payment.status), payment.failure_reason)
        await rt.payments.announce(payment_id, payment.status)
        return payment.status, True
    try:
        approved, ref = await asyncio.wait_for(
            provider.charge(payment_id, payment.amount, payment.currency),
            rt.settings.payment_provider_timeout_s)
    except TimeoutError:
        status = await rt.orders.apply_payment_failure(
            payment_id, PaymentStatus.TIMED_OUT, "payment provider did not answer")
        log.warning("payment_provider_timeout", payment_id=payment_id, status=status)
    else:
        if approved:
            status = await rt.orders.apply_payment_success(payment_id)
        else:
            status = await rt.orders.apply_payment_failure(
                payment_id, PaymentStatus.FAILED, "card declined")
        log.info("payment_processed", payment_id=payment_id, approved=approved, ref=ref,
                 status=status)
    await rt.payments.announce(payment_id, status)
    return status, False
