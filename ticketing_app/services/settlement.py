"""Settling a payment's outcome (the worker's side of the saga): a success sells the seats,
or refunds under the late-payment policy; a failure or a timeout compensates (order
cancelled, seats released). Each decision once per payment, however often the job runs.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from sqlalchemy import select, update
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import Event, Order, OrderItem, Payment, Seat, Ticket, now_utc
from ticketing_app.db.statements import (
    CONFIRM_SALE,
    CONFIRM_SALE_STEPS,
    confirm_sale_params,
)
from ticketing_app.domain import errors
from ticketing_app.domain.events import EventType
from ticketing_app.domain.orders import (
    CancelKind,
    OrderStatus,
    PaymentStatus,
    late_payment_may_confirm,
)
from ticketing_app.faults import fault_point
from ticketing_app.holds.store import HoldStore
from ticketing_app.services.order_records import (
    LockedOrder,
    aware,
    cancel_in,
    emit_order_event,
)
from ticketing_app.services.tickets import issue_tickets, new_tickets
from ticketing_app.services.uow import UnitOfWork
from ticketing_app.settings import Settings

log = structlog.get_logger(__name__)


class PaymentSettlement:
    """Writes through the database (`db`) and keeps Redis (`holds`) in line; `settings` for
    the ticket codes' secret and the fault points."""

    def __init__(self, db: Database, holds: HoldStore, settings: Settings) -> None:
        self.db = db
        self.holds = holds
        self.settings = settings

    # The late-payment policy (docs/onsale.md): a payment that succeeds after the order's seat
    # lock lapsed re-confirms the order if every seat is still free and unheld in Redis, still
    # unsold in the database, within the buyer's seat limit, and the event is not cancelled;
    # otherwise the payment is refunded (PAYMENT_REFUNDED, and ORDER_CANCELLED if the order
    # was still open) and the notifications consumer tells the buyer. Each decision is taken
    # once per payment, under a lock on the payment row (SQLite: the single writer lock), so
    # duplicate or concurrent runs of the job cannot both confirm and refund, and Redis is
    # brought in line before the decision commits.

    async def _lock_payment(self, uow: UnitOfWork, payment_id: int, with_event: bool = False
                            ) -> tuple[Payment, Order, str | None]:
        """The payment and its order, locked, in one round trip (FOR UPDATE on the join);
        `with_event`: their event's status too, under a shared lock on its row (PostgreSQL),
        which queues a confirmation behind a cancellation's UPDATE of the event and the
        reverse, so the cancellation's refund job always sees every order confirmed before it
        (services/cancellation.py). Every row read is locked, so a lock waited for returns
        each row's latest version (READ COMMITTED rechecks locked rows)."""
        q = (select(Payment, Order, col(Event.status))
             .join(Order, col(Order.id) == col(Payment.order_id))
             .join(Event, col(Event.id) == col(Order.event_id))
             .where(col(Payment.id) == payment_id))
        if with_event and self.db.is_postgres:
            q = q.with_for_update(of=[Payment, Order]).suffix_with("FOR SHARE OF events")
        else:
            q = q.with_for_update(of=[Payment, Order]) if self.db.is_postgres \
                else q.with_for_update()
        row = (await uow.session.execute(q)).one_or_none()
        if row is None:
            raise errors.NotFound(f"payment {payment_id}")
        return row[0], row[1], (str(row[2]) if with_event else None)

    async def apply_payment_success(self, payment_id: int) -> str:
        """Sell the seats, or (late payment whose seats are gone) refund. Returns the payment's
        final status. Safe to call any number of times, concurrently too."""
        async with UnitOfWork(self.db) as uow:
            payment, order, event_status = await self._lock_payment(uow, payment_id, True)
            if payment.status != PaymentStatus.PENDING.value:
                return payment.status
            # The items with their seats, the seats locked: the database's own verdict on
            # them comes with the same read (one round trip instead of two).
            view, unsold = await self._items_and_seats(uow, order)
            seats = [i.seat_id for i in view.items]
            reason = self._refusal(view, event_status)
            if reason is None:
                # Gate in Redis: still locked by this order, or (lock lapsed) still free.
                taken = await self.holds.confirm(order.event_id, order.lock_token,
                                                 order.buyer_id, seats, allow_free=True)
                if any(t["status"] == "LIMIT" for t in taken):
                    reason = "seat limit reached"
                elif taken:
                    reason = "seats no longer available"
                    view.taken.extend(taken)
            if reason is None and not unsold:
                reason = "seats no longer available"  # the database is the final arbiter
            if reason is None:
                await self._confirm_in(uow, payment_id, view)
                await uow.commit()
                log.info("order_confirmed", order_id=order.id, late=view.late)
                return PaymentStatus.AUTHORIZED.value
            await self._refund_in(uow, payment_id, view, reason)
            await uow.commit()
        log.warning("late_payment_refunded", order_id=order.id, reason=reason)
        return PaymentStatus.REFUNDED.value

    async def _items_and_seats(self, uow: UnitOfWork, order: Order
                               ) -> tuple[LockedOrder, bool]:
        """The order's items, and whether each of their seats is still unsold, with the seats
        locked (in seat order, as every writer of seats locks them)."""
        q = (select(OrderItem, col(Seat.status), col(Seat.order_id), col(Seat.event_id))
             .join(Seat, col(Seat.id) == col(OrderItem.seat_id))
             .where(col(OrderItem.order_id) == order.id).order_by(col(Seat.id)))
        rows = (await uow.session.execute(
            q.with_for_update(of=Seat) if self.db.is_postgres else q)).all()
        items = sorted((r[0] for r in rows), key=lambda i: i.id or 0)
        unsold = bool(rows) and all(
            status == "AVAILABLE" and owner is None and event == order.event_id
            for _, status, owner, event in rows)
        return self._view(order, items), unsold

    async def _items_view(self, uow: UnitOfWork, order: Order) -> LockedOrder:
        items = list((await uow.session.execute(select(OrderItem).where(
            col(OrderItem.order_id) == order.id).order_by(col(OrderItem.id)))).scalars())
        return self._view(order, items)

    @staticmethod
    def _view(order: Order, items: list[OrderItem]) -> LockedOrder:
        deadline = aware(order.payment_deadline)
        late = order.status == OrderStatus.CANCELLED.value or deadline <= datetime.now(UTC)
        return LockedOrder(order, items, late=late)

    @staticmethod
    def _refusal(view: LockedOrder, event_status: str | None) -> str | None:
        """A reason to refund before looking at the seats at all."""
        o = view.order
        if o.status not in (OrderStatus.CREATED.value, OrderStatus.CANCELLED.value):
            return "order already paid"
        if not late_payment_may_confirm(o.status, o.cancel_kind, o.close_reason):
            # Cancelled by the buyer, the organiser or the event: the buyer was told
            # "cancelled", so the money goes back; only a lapsed window may re-confirm.
            return f"order was cancelled ({o.close_reason or o.cancel_kind.lower()})"
        if event_status == "CANCELLED":
            return "event cancelled"
        return None

    async def _confirm_in(self, uow: UnitOfWork, payment_id: int, view: LockedOrder) -> None:
        s = uow.session
        order = view.order
        sale = {"b_order_id": order.id, "b_payment_id": payment_id, "b_now": now_utc(),
                "b_seat_ids": [i.seat_id for i in view.items], "b_event_id": order.event_id}
        if self.db.is_postgres:
            tickets = new_tickets(self.settings.secret_key, order.event_id, order.id or 0,
                                  view.items)
            self._emit_confirmed(uow, payment_id, view, tickets)
            await s.execute(CONFIRM_SALE, confirm_sale_params(sale, tickets, uow.take_outbox()))
            return
        for step in CONFIRM_SALE_STEPS:
            await s.execute(step, sale)
        tickets = await issue_tickets(s, self.settings.secret_key, order.event_id,
                                      order.id or 0, view.items)
        self._emit_confirmed(uow, payment_id, view, tickets)

    @staticmethod
    def _emit_confirmed(uow: UnitOfWork, payment_id: int, view: LockedOrder,
                        tickets: list[Ticket]) -> None:
        labels = {i.seat_id: i.seat_label for i in view.items}
        emit_order_event(uow, EventType.PAYMENT_SUCCESS, view, paymentId=payment_id)
        # The tickets ride along, so the confirmation mail needs no read of its own.
        emit_order_event(uow, EventType.ORDER_CONFIRMED, view, paymentId=payment_id, late=view.late,
                         tickets=[{"label": labels[t.seat_id], "code": t.code} for t in tickets])

    async def _refund_in(
        self, uow: UnitOfWork, payment_id: int, view: LockedOrder, reason: str
    ) -> None:
        """The provider took the money but the seats are gone: refund, cancel, tell the buyer.
        Redis first (release whatever this order still claims there), then the decision."""
        s = uow.session
        order = view.order
        seats = [i.seat_id for i in view.items]
        if order.status != OrderStatus.CONFIRMED.value:
            await self.holds.unsell(order.event_id, order.lock_token, seats)
            await self.holds.unlock_order(order.event_id, order.lock_token, seats)
        await s.execute(
            update(Payment).where(col(Payment.id) == payment_id)
            .values(status=PaymentStatus.REFUNDED.value, failure_reason=reason,
                    updated_at=now_utc()))
        emit_order_event(uow, EventType.PAYMENT_SUCCESS, view, paymentId=payment_id)
        emit_order_event(uow, EventType.PAYMENT_REFUNDED, view, paymentId=payment_id, reason=reason,
                         seats=view.taken)
        if order.status == OrderStatus.CREATED.value:
            await s.execute(
                update(Order).where(col(Order.id) == order.id)
                .values(status=OrderStatus.CANCELLED.value, closed_at=now_utc(),
                        updated_at=now_utc(), close_reason=f"{reason}; payment refunded",
                        cancel_kind=CancelKind.REFUNDED.value))
            emit_order_event(uow, EventType.ORDER_CANCELLED, view, reason=reason)

    async def apply_payment_failure(
        self, payment_id: int, status: PaymentStatus, reason: str
    ) -> str:
        """Saga compensation: payment failed or timed out -> order cancelled, seats released.
        Under the payment row's lock, like a success, so the two never interleave."""
        async with UnitOfWork(self.db) as uow:
            payment, order, _ = await self._lock_payment(uow, payment_id)
            if payment.status != PaymentStatus.PENDING.value:
                if order.status == OrderStatus.CANCELLED.value:
                    await self._release_redis(order)  # a repeat: make sure nothing is left
                return payment.status
            view = await self._items_view(uow, order)
            await uow.session.execute(
                update(Payment).where(col(Payment.id) == payment_id)
                .values(status=status.value, failure_reason=reason, updated_at=now_utc()))
            emit_order_event(uow, EventType.PAYMENT_FAILED, view, paymentId=payment_id,
                             reason=reason, paymentStatus=status.value)
            await cancel_in(uow, view, f"payment {status.value.lower()}",
                            CancelKind.PAYMENT)
            closed = order.status in (OrderStatus.CREATED.value, OrderStatus.CANCELLED.value)
            await uow.commit()
        await fault_point(self.settings, "payment.after_compensation_commit")
        if closed:
            await self._release_redis(order, [i.seat_id for i in view.items])
        return status.value

    async def _release_redis(self, order: Order, seats: list[int] | None = None) -> None:
        """Whatever a closed, unpaid order still claims in Redis: its seat locks, and seats a
        success run sold there before it stopped short of committing (`seats`: the order's,
        when the caller has read them)."""
        if seats is None:
            async with self.db.read_sessions() as s:
                seats = list((await s.execute(select(col(OrderItem.seat_id)).where(
                    col(OrderItem.order_id) == order.id))).scalars())
        await self.holds.unlock_order(order.event_id, order.lock_token, seats)
        await self.holds.unsell(order.event_id, order.lock_token, seats)

