"""Cancelling an event: sales close and holds end at once; a background job refunds every
confirmed order, exactly once each, and survives restarts.

The job keeps no state of its own: what is left to do is read from the database every time
(orders of the event still CONFIRMED or awaiting payment), and each refund is a guarded,
idempotent transition. So a job killed half-way, run twice at once, or resumed by the
watchdog (a RUNNING job whose heartbeat is older than CANCEL_JOB_STALE_S) refunds each order
once. Progress lives in `background_jobs`, so the admin page can watch it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import timedelta

import structlog
from sqlalchemy import func, select, update
from sqlmodel import col

from ticketing_app.clients.job_queue import JobQueue
from ticketing_app.db.engine import Database
from ticketing_app.db.models import BackgroundJobRecord, Event, Order, now_utc
from ticketing_app.domain import errors
from ticketing_app.domain.events import EventType
from ticketing_app.domain.orders import CancelKind, OrderStatus
from ticketing_app.holds.store import HoldStore
from ticketing_app.services.admin_base import record_audit
from ticketing_app.services.catalog import CatalogService
from ticketing_app.services.orders import OrderService
from ticketing_app.services.uow import UnitOfWork
from ticketing_app.settings import Settings

log = structlog.get_logger(__name__)

JOB_KIND = "event_cancellation"
JOB_FUNCTION = "cancel_event_refunds"
REFUND_REASON = "event cancelled"
BATCH = 50
REASON_MAX = 300


def job_target(event_id: int) -> str:
    return f"event:{event_id}"


def event_of(job: BackgroundJobRecord) -> int:
    return int(job.target.split(":", 1)[1])


class CancellationService:
    """The event and the job's progress in the database (`db`); sales close through
    `catalog` and `holds`; each order is cancelled or refunded by `orders`; the job and its
    continuations go on the `queue`; `settings` for the refund pace and the watchdog."""

    def __init__(self, db: Database, holds: HoldStore, catalog: CatalogService,
                 orders: OrderService, queue: JobQueue, settings: Settings) -> None:
        self.db = db
        self.holds = holds
        self.catalog = catalog
        self.orders = orders
        self.queue = queue
        self.settings = settings

    async def cancel_event(self, actor: str, event_id: int, reason: str) -> BackgroundJobRecord:
        """Idempotent: cancelling a cancelled event returns its job."""
        reason = (reason or "").strip()
        if not reason:
            raise errors.ValidationFailed("Say why the event is cancelled (buyers are told).",
                                          [{"field": "reason", "message": "required"}])
        if len(reason) > REASON_MAX:
            raise errors.ValidationFailed(f"The reason is longer than {REASON_MAX} characters.",
                                          [{"field": "reason", "message": "too long"}])
        async with UnitOfWork(self.db) as uow:
            s = uow.session
            q = select(Event).where(col(Event.id) == event_id)
            if self.db.is_postgres:
                q = q.with_for_update()  # waits for confirmations in flight (see orders.py)
            ev = (await s.execute(q)).scalar_one_or_none()
            if ev is None:
                raise errors.EventNotFound(f"Event {event_id} not found.")
            if ev.status == "CANCELLED":
                job = await self.job_for_event(event_id)
                if job is not None:
                    return job
            previous = ev.status
            ev.status = "CANCELLED"
            ev.cancel_reason = reason
            ev.updated_at = now_utc()
            total = (await s.execute(select(func.count()).select_from(Order).where(
                col(Order.event_id) == event_id, col(Order.status) == OrderStatus.CONFIRMED.value))
            ).scalar_one()
            job = BackgroundJobRecord(kind=JOB_KIND, target=job_target(event_id),
                                      status="RUNNING", total=int(total), done=0,
                                      message=reason[:500])
            s.add(job)
            await s.flush()
            uow.emit(EventType.EVENT_CANCELLED, event_id, event_id, {
                "eventId": event_id, "reason": reason, "jobId": job.id,
                "eventType": EventType.EVENT_CANCELLED.value})
            record_audit(uow, actor, "event.cancel", f"event:{event_id}", reason=reason,
                         previous=previous, jobId=job.id, confirmedOrders=int(total))
            await uow.commit()
        # Sales close and holds end now; the refunds follow in the background.
        await self.catalog.refresh_event_state(event_id)
        await self.holds.release_all(event_id)
        await self.enqueue(int(job.id or 0))
        return job

    async def enqueue(self, job_id: int) -> None:
        await self.queue.enqueue_job(JOB_FUNCTION, job_id,
                                     job_id=f"cancel:{job_id}:{uuid.uuid4().hex[:10]}")

    async def job(self, job_id: int) -> BackgroundJobRecord | None:
        async with self.db.read_sessions() as s:
            return await s.get(BackgroundJobRecord, job_id)

    async def job_for_event(self, event_id: int) -> BackgroundJobRecord | None:
        async with self.db.read_sessions() as s:
            return (await s.execute(select(BackgroundJobRecord).where(
                col(BackgroundJobRecord.kind) == JOB_KIND,
                col(BackgroundJobRecord.target) == job_target(event_id))
                .order_by(col(BackgroundJobRecord.id).desc()).limit(1))).scalar_one_or_none()

    # ---- the job --------------------------------------------------------------------------
    async def run(self, job_id: int, budget_s: float = 20.0) -> bool:
        """Refunds until nothing is left (True) or the time budget is spent (False: the caller
        enqueues a continuation)."""
        job = await self.job(job_id)
        if job is None or job.status != "RUNNING":
            return True
        event_id = event_of(job)
        pace = self.settings.cancel_refunds_per_second
        deadline = time.monotonic() + budget_s
        while True:
            confirmed, created = await self._open_orders(event_id)
            for oid in created:
                # Not paid yet: cancelled (a payment that still succeeds is refunded); one paid
                # meanwhile refuses (Conflict) and the next round refunds it.
                with contextlib.suppress(errors.Conflict):
                    await self.orders.cancel(oid, None, REFUND_REASON, CancelKind.EVENT)
            if not confirmed and not created:
                await self._finish(job_id, event_id)
                return True
            for oid in confirmed:
                await self.orders.refund(oid, reason=REFUND_REASON)
                await self._progress(job_id, event_id)
                if pace > 0:
                    await asyncio.sleep(1 / pace)
                if time.monotonic() > deadline:
                    return False

    async def _open_orders(self, event_id: int) -> tuple[list[int], list[int]]:
        async with self.db.read_sessions() as s:
            rows = (await s.execute(select(col(Order.id), col(Order.status)).where(
                col(Order.event_id) == event_id,
                col(Order.status).in_([OrderStatus.CONFIRMED.value, OrderStatus.CREATED.value]))
                .order_by(col(Order.id)).limit(BATCH))).all()
        return ([int(i) for i, st in rows if st == OrderStatus.CONFIRMED.value],
                [int(i) for i, st in rows if st == OrderStatus.CREATED.value])

    async def _counts(self, event_id: int) -> tuple[int, int]:
        async with self.db.read_sessions() as s:
            done = (await s.execute(select(func.count()).select_from(Order).where(
                col(Order.event_id) == event_id, col(Order.status) == OrderStatus.REFUNDED.value,
                col(Order.close_reason) == REFUND_REASON))).scalar_one()
            left = (await s.execute(select(func.count()).select_from(Order).where(
                col(Order.event_id) == event_id, col(Order.status) == OrderStatus.CONFIRMED.value))
            ).scalar_one()
        return int(done), int(left)

    async def _progress(self, job_id: int, event_id: int) -> None:
        done, left = await self._counts(event_id)
        async with UnitOfWork(self.db) as uow:
            await uow.session.execute(
                update(BackgroundJobRecord).where(col(BackgroundJobRecord.id) == job_id,
                                                  col(BackgroundJobRecord.status) == "RUNNING")
                .values(done=done, total=done + left, updated_at=now_utc()))
            await uow.commit()

    async def _finish(self, job_id: int, event_id: int) -> None:
        # Rebuild the event's Redis state from the database: whatever a killed run left
        # half-said to Redis, it now matches (sales are closed, nobody can hold meanwhile).
        await self.holds.reset_event(event_id)
        self.catalog.forget(event_id)
        await self.catalog.load_event_state(event_id)
        done, _ = await self._counts(event_id)
        async with UnitOfWork(self.db) as uow:
            res = await uow.session.execute(
                update(BackgroundJobRecord).where(col(BackgroundJobRecord.id) == job_id,
                                                  col(BackgroundJobRecord.status) == "RUNNING")
                .values(status="DONE", done=done, total=done, updated_at=now_utc()))
            if res.rowcount == 1:  # type: ignore[attr-defined]
                record_audit(uow, "system", "event.cancel.done", f"event:{event_id}",
                             jobId=job_id, refunded=done)
            await uow.commit()
        log.info("event_cancellation_done", event_id=event_id, job_id=job_id, refunded=done)

    async def resume_stale(self) -> list[int]:
        """The watchdog: a RUNNING job silent for CANCEL_JOB_STALE_S (its worker died) is
        enqueued again. Touching its heartbeat first keeps one resume per period."""
        stale_before = now_utc() - timedelta(seconds=self.settings.cancel_job_stale_s)
        async with self.db.read_sessions() as s:
            ids = list((await s.execute(select(col(BackgroundJobRecord.id)).where(
                col(BackgroundJobRecord.kind) == JOB_KIND,
                col(BackgroundJobRecord.status) == "RUNNING",
                col(BackgroundJobRecord.updated_at) < stale_before))).scalars())
        resumed = []
        for job_id in ids:
            async with UnitOfWork(self.db) as uow:
                res = await uow.session.execute(
                    update(BackgroundJobRecord).where(
                        col(BackgroundJobRecord.id) == job_id,
                        col(BackgroundJobRecord.status) == "RUNNING",
                        col(BackgroundJobRecord.updated_at) < stale_before)
                    .values(updated_at=now_utc()))
                await uow.commit()
            if res.rowcount == 1:  # type: ignore[attr-defined]
                await self.enqueue(int(job_id or 0))
                resumed.append(int(job_id or 0))
                log.warning("event_cancellation_resumed", job_id=job_id)
        return resumed
