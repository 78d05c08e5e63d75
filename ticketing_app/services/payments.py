"""Payments: the API side. `authorize` records a PENDING payment and enqueues the worker's
job; it then waits (up to PAYMENT_SYNC_WAIT_S) for the worker's announcement on Redis, so
clients of the original get their synchronous `success`/`fail`; past that it answers pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from sqlalchemy import select
from sqlmodel import col

from ticketing_app.clients.job_queue import JobQueue
from ticketing_app.clients.pubsub import listen_alive
from ticketing_app.db.engine import Database
from ticketing_app.db.models import Order, Payment, now_utc
from ticketing_app.db.statements import INSERT_PAYMENT, START_PAYMENT, row_of
from ticketing_app.domain import errors
from ticketing_app.domain.orders import OrderStatus, PaymentStatus
from ticketing_app.holds.keys import PAYMENT_CHANNEL_PREFIX
from ticketing_app.observability import metrics
from ticketing_app.observability.tracing import current_trace_id, current_traceparent
from ticketing_app.services.uow import UnitOfWork
from ticketing_app.settings import Settings

log = structlog.get_logger(__name__)

FINAL = {PaymentStatus.AUTHORIZED.value, PaymentStatus.FAILED.value,
         PaymentStatus.TIMED_OUT.value, PaymentStatus.REFUNDED.value}


@dataclass(frozen=True)
class PaymentOutcome:
    order_id: int
    payment_id: int
    status: str  # a PaymentStatus value

    @property
    def public_status(self) -> str:
        if self.status == PaymentStatus.AUTHORIZED.value:
            return "success"
        if self.status == PaymentStatus.PENDING.value:
            return "pending"
        return "fail"


class PaymentWaiter:
    """One pattern subscription per process, fanning outcomes out to waiting requests."""

    def __init__(self, redis: Redis, status: Callable[[int], Awaitable[str]]) -> None:
        """`status(payment_id)`: the payment's status in the database, for an outcome that
        may have been announced before the subscription was live."""
        self.redis = redis
        self.status = status
        self._waiters: dict[int, list[asyncio.Future[str]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.psubscribe(PAYMENT_CHANNEL_PREFIX + "*")
                self._ready.set()
                await self._catch_up()
                async for msg in listen_alive(pubsub):
                    if msg.get("type") != "pmessage":
                        continue
                    channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) \
                        else msg["channel"]
                    pid = int(channel[len(PAYMENT_CHANNEL_PREFIX):])
                    status = json.loads(msg["data"])["status"]
                    for fut in self._waiters.pop(pid, []):
                        if not fut.done():
                            fut.set_result(status)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarted or went silent: resubscribe
                log.warning("payment_waiter_reconnect", error=str(exc))
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):  # its pooled connection goes back
                    await pubsub.aclose()

    async def _catch_up(self) -> None:
        """Outcomes announced while the subscription was down (Redis restarted, or went silent
        and the old connection was given up) were missed: look up every payment still waited
        for, instead of letting its request wait out PAYMENT_SYNC_WAIT_S for nothing."""
        for pid in list(self._waiters):
            status = await self.status(pid)
            if status in FINAL:
                for fut in self._waiters.pop(pid, []):
                    if not fut.done():
                        fut.set_result(status)

    async def register(self, payment_id: int) -> tuple[asyncio.Future[str], bool]:
        """A future for the payment's announcement, and whether the subscription is live (when
        it is not, an announcement made before it is can be missed: look at the row too)."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="payment-waiter")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 2)
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(payment_id, []).append(fut)
        return fut, self._ready.is_set()

    def unregister(self, payment_id: int, fut: asyncio.Future[str]) -> None:
        lst = self._waiters.get(payment_id)
        if lst and fut in lst:
            lst.remove(fut)
            if not lst:
                self._waiters.pop(payment_id, None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class PaymentService:
    """Payments are rows in the database (`db`), their jobs go on the `queue`, their outcomes
    arrive on Redis pub/sub (`redis`); `settings` for how long a request waits for one."""

    def __init__(self, db: Database, redis: Redis, queue: JobQueue, settings: Settings) -> None:
        self.db = db
        self.redis = redis
        self.queue = queue
        self.settings = settings
        self.waiter = PaymentWaiter(redis, self.status)

    async def close(self) -> None:
        await self.waiter.close()

    async def status(self, payment_id: int) -> str:
        async with self.db.read_sessions() as s:
            p = await s.get(Payment, payment_id)
        return p.status if p else PaymentStatus.PENDING.value

    async def latest(self, order_id: int) -> Payment | None:
        """The order's latest payment attempt (its status and provider reference)."""
        async with self.db.read_sessions() as s:
            return (await s.execute(
                select(Payment).where(col(Payment.order_id) == order_id)
                .order_by(col(Payment.id).desc()).limit(1))).scalar_one_or_none()

    async def start(self, buyer: str | None, order_id: int) -> tuple[Payment, bool]:
        """Returns the order's payment (a new PENDING one, or the existing attempt) and whether
        a job must run. An order has at most one live payment attempt."""
        payment, needs_job, _ = await self._start(buyer, order_id)
        return payment, needs_job

    async def _start(self, buyer: str | None, order_id: int) -> tuple[Payment, bool, bool]:
        """`start`'s answer, and whether this call made the payment (else another request's
        job may already have announced its outcome)."""
        if self.db.is_postgres:
            return await self._start_at_once(buyer, order_id)
        async with UnitOfWork(self.db) as uow:
            s = uow.session
            # SQLite: BEGIN IMMEDIATE serialises writers, so two authorizations make one payment.
            order = await s.get(Order, order_id)
            if order is None:
                raise errors.OrderNotFound(f"Order {order_id} not found.")
            if buyer is not None and order.buyer_id != buyer:
                raise errors.Forbidden("This order belongs to another buyer.")
            existing = (await s.execute(
                select(Payment).where(col(Payment.order_id) == order_id)
                .order_by(col(Payment.id).desc()).limit(1))).scalar_one_or_none()
            current = self._current_attempt(order.status, existing)
            if current is not None:
                return *current, False
            payment = self._new_payment(order_id, order.total, order.currency)
            payment.id = (await s.execute(INSERT_PAYMENT, row_of(payment))).scalar_one()
            await uow.commit()
        metrics.PAYMENTS.labels(status=PaymentStatus.PENDING.value).inc()
        return payment, True, True

    async def _start_at_once(self, buyer: str | None, order_id: int
                             ) -> tuple[Payment, bool, bool]:
        """PostgreSQL: the order's lock, its latest attempt and the new payment in one statement
        sent in autocommit (db/statements.py, START_PAYMENT) instead of BEGIN, three statements
        and COMMIT. When it made none, the attempt it answers with is read afresh: the
        statement's own read of the payments may predate a concurrent twin's commit."""
        for _ in range(3):
            payment = self._new_payment(order_id, 0, "")
            done = await self.db.write_one(START_PAYMENT, {
                "b_order_id": order_id, "b_buyer": buyer, "b_trace_id": payment.trace_id,
                "b_traceparent": payment.traceparent, "b_now": payment.created_at})
            if not done.rows:
                raise errors.OrderNotFound(f"Order {order_id} not found.")
            status, owner, total, currency, new_id = tuple(done.rows[0])
            if buyer is not None and owner != buyer:
                raise errors.Forbidden("This order belongs to another buyer.")
            if new_id is not None:
                payment.id, payment.amount, payment.currency = int(new_id), total, currency
                metrics.PAYMENTS.labels(status=PaymentStatus.PENDING.value).inc()
                return payment, True, True
            current = self._current_attempt(str(status), await self.latest(order_id))
            if current is not None:
                return *current, False
            # An attempt it saw has failed since, and the order is still open: start again.
        raise errors.PaymentInProgress(
            "A payment for this order is being settled; try again in a moment.",
            [{"field": "orderId", "message": "payment attempt changing"}])

    @staticmethod
    def _current_attempt(order_status: str, existing: Payment | None
                         ) -> tuple[Payment, bool] | None:
        """The attempt to answer with instead of starting one (and whether its job must run),
        or None when a new attempt may start: the order is open and no attempt but a failed
        one exists."""
        if existing is not None and existing.status != PaymentStatus.FAILED.value:
            return existing, existing.status == PaymentStatus.PENDING.value
        if order_status != OrderStatus.CREATED.value:
            if existing is not None:
                return existing, False
            raise errors.Conflict(
                f"Order is {order_status}; it cannot be paid.",
                [{"field": "orderId", "message": f"status {order_status}"}])
        return None

    @staticmethod
    def _new_payment(order_id: int, amount: int, currency: str) -> Payment:
        now = now_utc()
        return Payment(order_id=order_id, status=PaymentStatus.PENDING.value, amount=amount,
                       currency=currency, trace_id=current_trace_id(),
                       traceparent=current_traceparent(), created_at=now, updated_at=now)

    async def enqueue(self, payment: Payment) -> None:
        await self.queue.enqueue_payment(int(payment.id or 0), payment.traceparent)

    async def authorize(self, buyer: str | None, order_id: int, wait: bool = True
                        ) -> PaymentOutcome:
        payment, needs_job, made_here = await self._start(buyer, order_id)
        pid = int(payment.id or 0)
        status = payment.status
        if status != PaymentStatus.PENDING.value or not wait:
            if needs_job:
                await self.enqueue(payment)
            return PaymentOutcome(order_id, pid, status)
        timeout = self.settings.payment_sync_wait_s
        # Listening before enqueueing: for a payment made here, the job cannot announce its
        # outcome before we listen. An attempt another request made (a double click, a retry)
        # may have been settled since we read it: its row is looked at once after listening.
        fut, live = await self.waiter.register(pid)
        try:
            if needs_job:  # enqueueing is idempotent by job id: a lost job is queued again
                await self.enqueue(payment)
            if not live or not made_here:
                now = await self.status(pid)
                if now in FINAL:
                    return PaymentOutcome(order_id, pid, now)
            with contextlib.suppress(TimeoutError):
                status = await asyncio.wait_for(fut, timeout)
        finally:
            self.waiter.unregister(pid, fut)
        return PaymentOutcome(order_id, pid, status)

    async def announce(self, payment_id: int, status: str) -> None:
        """The worker tells every waiting API process."""
        await self.redis.publish(f"{PAYMENT_CHANNEL_PREFIX}{payment_id}",
                                 json.dumps({"status": status}))
