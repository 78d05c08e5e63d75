"""The payment job and the saga around it.

process_payment runs once or more per payment (ARQ retries rather than loses): every step is
guarded, so a repeat changes nothing. Success sells the seats (or, for a late payment whose
seats are gone, refunds); failure or a provider timeout compensates: order cancelled, seats
released, events emitted.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from backend_jobs.provider import SimulatedProvider
from ticketing_app.db.models import Payment
from ticketing_app.domain.orders import PaymentStatus
from ticketing_app.observability import metrics
from ticketing_app.observability.tracing import span_from_traceparent
from ticketing_app.runtime import Runtime

log = structlog.get_logger(__name__)


async def process_payment(ctx: dict[str, Any], payment_id: int, traceparent: str = "") -> str:
    rt: Runtime = ctx["rt"]
    provider: SimulatedProvider = ctx["provider"]
    with span_from_traceparent("payment.process", traceparent, payment_id=payment_id):
        async with rt.db.read_sessions() as s:
            payment = await s.get(Payment, payment_id)
        if payment is None:
            log.warning("payment_missing", payment_id=payment_id)
            return "MISSING"
        if payment.status != PaymentStatus.PENDING.value:
            await rt.payments.announce(payment_id, payment.status)
            return payment.status
        try:
            approved, ref = await asyncio.wait_for(
                provider.charge(payment_id, payment.amount, payment.currency),
                rt.settings.payment_provider_timeout_s)
        except TimeoutError:
            status = await rt.orders.apply_payment_failure(
                payment_id, PaymentStatus.TIMED_OUT, "payment provider did not answer")
            metrics.SAGA_COMPENSATIONS.labels(reason="timeout").inc()
        else:
            if approved:
                status = await rt.orders.apply_payment_success(payment_id)
                if status == PaymentStatus.REFUNDED.value:
                    metrics.SAGA_COMPENSATIONS.labels(reason="late_refund").inc()
            else:
                status = await rt.orders.apply_payment_failure(
                    payment_id, PaymentStatus.FAILED, "card declined")
                metrics.SAGA_COMPENSATIONS.labels(reason="declined").inc()
            log.info("payment_processed", payment_id=payment_id, approved=approved, ref=ref,
                     status=status)
        metrics.PAYMENTS.labels(status=status).inc()
        await rt.payments.announce(payment_id, status)
        return status
