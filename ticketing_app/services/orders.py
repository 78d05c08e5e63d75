"""Orders: creation (idempotent), confirmation after payment, compensation, refunds.

Redis is the gate (holds, order locks, fenced by the order's lock token); the database is the
final arbiter: a seat is sold by a guarded UPDATE that only succeeds while the seat is free,
so even a Redis that lost its data cannot make two orders own one seat.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import func, select, update
from sqlmodel import col

from ticketing_app.db.models import (
    AuditLog,
    Event,
    Order,
    OrderItem,
    Payment,
    Seat,
    Ticket,
    now_utc,
)
from ticketing_app.db.statements import (
    AUTHORIZE_PAYMENT,
    COMPLETE_CLAIM,
    CONFIRM_ORDER,
    INSERT_ORDER,
    INSERT_ORDER_ITEMS,
    SELL_SEATS,
    complete_claim_params,
    row_of,
)
from ticketing_app.domain import errors
from ticketing_app.domain.events import EventType, iso
from ticketing_app.domain.idempotency import check_key, request_fingerprint
from ticketing_app.domain.orders import (
    LAPSED_REASON,
    CancelKind,
    OrderStatus,
    PaymentStatus,
    late_payment_may_confirm,
)
from ticketing_app.faults import fault_point
from ticketing_app.observability.tracing import current_trace_id
from ticketing_app.services.idempotency import IdempotencyStore
from ticketing_app.services.reservations import check_seat_ids
from ticketing_app.services.tickets import issue_tickets
from ticketing_app.services.uow import UnitOfWork

if TYPE_CHECKING:
    from ticketing_app.runtime import Runtime

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OrderView:
    order: Order
    items: list[OrderItem]

    def public(self) -> dict[str, Any]:
        o = self.order
        return {
            "orderId": o.id,
            "status": o.status,
            "eventId": o.event_id,
            "seatIds": [i.seat_id for i in self.items],
            "createdAt": iso(o.created_at),
            "total": o.total,
            "currency": o.currency,
            "paymentDeadline": iso(o.payment_deadline),
            "closeReason": o.close_reason or None,
            "items": [
                {
                    "seatId": i.seat_id,
                    "label": i.seat_label,
                    "tier": i.tier_name,
                    "price": i.price,
                    "currency": i.currency,
                    "refunded": i.refunded,
                }
                for i in self.items
            ],
        }


@dataclass(frozen=True)
class _LockedOrder(OrderView):
    """An order read under its payment's lock, with what the decision found out."""

    late: bool = False
    taken: list[dict[str, Any]] = field(default_factory=list)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class OrderService:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.idem = IdempotencyStore(rt.db, rt.settings.idempotency_lease_s)

    # ---- creation -----------------------------------------------------------------------
    async def create(
        self,
        buyer: str,
        idempotency_key: str | None,
        event_id: int,
        seat_ids: Sequence[int],
        path: str = "/api/orders",
    ) -> tuple[int, dict[str, Any]]:
        """Returns (status code, body); replays the stored first answer for a repeated key."""
        key = check_key(idempotency_key)
        body = {"eventId": event_id, "seatIds": list(seat_ids)}
        claim = await self.idem.claim(
            buyer, key, "POST", path, request_fingerprint("POST", path, body)
        )
        if claim.replay is not None:
            return claim.replay
        try:
            code, out = await self._create(
                buyer, key, event_id, seat_ids, claim.lock_token, claim.record_id,
                claim.taken_over,
            )
        except errors.DomainError as exc:
            if exc.status >= 500:
                await self.idem.abandon(claim.record_id)
                raise
            await self.idem.complete(
                claim.record_id,
                exc.status,
                {
                    "code": exc.code,
                    "message": exc.message,
                    "details": exc.details,
                },
            )
            raise
        except Exception:
            await self.idem.abandon(claim.record_id)
            raise
        return code, out

    async def _create(
        self,
        buyer: str,
        key: str,
        event_id: int,
        seat_ids: Sequence[int],
        token: str,
        record_id: int,
        taken_over: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        seats = check_seat_ids(seat_ids)
        ev = await self.rt.catalog.public_event(event_id)
        if ev.status != "ON_SALE":
            raise errors.SalesClosed()
        layout = await self.rt.catalog.layout(event_id)
        self.rt.catalog.validate_seat_ids(seats, layout)
        window = self.rt.settings.order_payment_window_s
        deadline = datetime.now(UTC) + timedelta(seconds=window)
        deadline_ms = int(deadline.timestamp() * 1000)
        # Gate: only seats this buyer holds right now; they stay locked for the payment window.
        await self.rt.holds.lock_for_order(event_id, buyer, token, deadline_ms, seats)
        try:
            await fault_point(self.rt.settings, "order.after_lock")
            view = await self._write_order(
                buyer, key, ev.id or 0, ev.currency, seats, token, deadline, record_id,
                taken_over,
            )
        except Exception:
            # Give the seats back as holds so the buyer can retry; the record is abandoned.
            rehold = int((time.time() + ev.hold_default_s) * 1000)
            await self.rt.holds.unlock_order(event_id, token, seats, rehold_until_ms=rehold)
            raise
        await fault_point(self.rt.settings, "order.after_commit")
        return 201, view.public()

    async def _write_order(
        self,
        buyer: str,
        key: str,
        event_id: int,
        currency: str,
        seats: list[int],
        token: str,
        deadline: datetime,
        record_id: int,
        taken_over: bool = False,
    ) -> OrderView:
        layout = (await self.rt.catalog.layout(event_id)).by_id()
        async with UnitOfWork(self.rt.db) as uow:
            s = uow.session
            # The order and its idempotency record's answer commit together, so a fresh claim
            # cannot have an order yet: only a takeover pays for this look-up (defence in depth).
            existing = (
                await s.execute(select(Order).where(col(Order.lock_token) == token))
            ).scalar_one_or_none() if taken_over else None
            if existing is not None:  # a taken-over request whose first attempt committed
                return await self._view(existing)
            prices = dict((await s.execute(
                select(col(Seat.id), col(Seat.price))
                .where(col(Seat.id).in_(seats), col(Seat.event_id) == event_id)
            )).all())
            now = now_utc()
            order = Order(
                event_id=event_id,
                buyer_id=buyer,
                status=OrderStatus.CREATED.value,
                total=sum(prices[sid] for sid in seats),
                currency=currency,
                idempotency_key=key,
                lock_token=token,
                trace_id=current_trace_id(),
                payment_deadline=deadline,
                created_at=now,
                updated_at=now,
            )
            # Prebuilt Core inserts, not the ORM's flush: this is the stampede's hot write path.
            order.id = (await s.execute(INSERT_ORDER, row_of(order))).scalar_one()
            items = [
                OrderItem(
                    order_id=order.id,
                    seat_id=sid,
                    price=prices[sid],
                    currency=currency,
                    tier_name=layout[sid].tier_name,
                    seat_label=layout[sid].label,
                )
                for sid in seats
            ]
            await s.execute(INSERT_ORDER_ITEMS, [row_of(i) for i in items])
            view = OrderView(order, items)
            uow.emit(EventType.ORDER_CREATED, order.id or 0, event_id, self._payload(view))
            await s.execute(COMPLETE_CLAIM, complete_claim_params(record_id, 201, view.public()))
            await uow.commit()
        return view

    # ---- reads --------------------------------------------------------------------------
    async def _view(self, order: Order) -> OrderView:
        async with self.rt.db.read_sessions() as s:
            items = list(
                (
                    await s.execute(
                        select(OrderItem)
                        .where(col(OrderItem.order_id) == order.id)
                        .order_by(col(OrderItem.id))
                    )
                ).scalars()
            )
        return OrderView(order, items)

    async def get(self, order_id: int, buyer: str | None = None) -> OrderView:
        async with self.rt.db.read_sessions() as s:
            order = await s.get(Order, order_id)
        if order is None:
            raise errors.OrderNotFound(f"Order {order_id} not found.")
        if buyer is not None and order.buyer_id != buyer:
            raise errors.Forbidden("This order belongs to another buyer.")
        return await self._view(order)

    async def list_for_buyer(self, buyer: str, limit: int = 50) -> list[OrderView]:
        async with self.rt.db.read_sessions() as s:
            orders = list(
                (
                    await s.execute(
                        select(Order)
                        .where(col(Order.buyer_id) == buyer)
                        .order_by(col(Order.id).desc())
                        .limit(limit)
                    )
                ).scalars()
            )
        return [await self._view(o) for o in orders]

    async def tickets_for_order(self, order_id: int) -> list[Ticket]:
        async with self.rt.db.read_sessions() as s:
            return list(
                (
                    await s.execute(
                        select(Ticket)
                        .where(col(Ticket.order_id) == order_id)
                        .order_by(col(Ticket.id))
                    )
                ).scalars()
            )

    @staticmethod
    def _payload(view: OrderView, **extra: Any) -> dict[str, Any]:
        o = view.order
        return {
            "orderId": o.id,
            "eventId": o.event_id,
            "buyerId": o.buyer_id,
            "seatIds": [i.seat_id for i in view.items],
            "total": o.total,
            "currency": o.currency,
            "eventType": None,
            "traceId": current_trace_id() or o.trace_id,
            **extra,
        }

    def _emit(self, uow: UnitOfWork, event_type: EventType, view: OrderView, **extra: Any) -> None:
        payload = self._payload(view, **extra)
        payload["eventType"] = event_type.value
        uow.emit(event_type, view.order.id or 0, view.order.event_id, payload)

    # ---- payment outcome (called by the worker) ------------------------------------------
    # The late-payment policy (docs/onsale.md): a payment that succeeds after the order's seat
    # lock lapsed re-confirms the order if every seat is still free and unheld in Redis, still
    # unsold in the database, within the buyer's seat limit, and the event is not cancelled;
    # otherwise the payment is refunded (PAYMENT_REFUNDED, and ORDER_CANCELLED if the order
    # was still open) and the notifications consumer tells the buyer. Each decision is taken
    # once per payment, under a lock on the payment row (SQLite: the single writer lock), so
    # duplicate or concurrent runs of the job cannot both confirm and refund, and Redis is
    # brought in line before the decision commits.

    async def _lock_payment(self, uow: UnitOfWork, payment_id: int) -> tuple[Payment, Order]:
        # Both rows in one round trip; FOR UPDATE on the join locks the payment and its order.
        row = (await uow.session.execute(
            select(Payment, Order).join(Order, col(Order.id) == col(Payment.order_id))
            .where(col(Payment.id) == payment_id).with_for_update())).one_or_none()
        if row is None:
            raise errors.NotFound(f"payment {payment_id}")
        return row[0], row[1]

    async def apply_payment_success(self, payment_id: int) -> str:
        """Sell the seats, or (late payment whose seats are gone) refund. Returns the payment's
        final status. Safe to call any number of times, concurrently too."""
        async with UnitOfWork(self.rt.db) as uow:
            payment, order = await self._lock_payment(uow, payment_id)
            if payment.status != PaymentStatus.PENDING.value:
                return payment.status
            view = await self._items_view(uow, order)
            seats = [i.seat_id for i in view.items]
            reason = await self._refusal(uow, view)
            if reason is None:
                # Gate in Redis: still locked by this order, or (lock lapsed) still free.
                taken = await self.rt.holds.confirm(order.event_id, order.lock_token,
                                                    order.buyer_id, seats, allow_free=True)
                if any(t["status"] == "LIMIT" for t in taken):
                    reason = "seat limit reached"
                elif taken:
                    reason = "seats no longer available"
                    view.taken.extend(taken)
            if reason is None and not await self._seats_unsold(uow, view):
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

    async def _items_view(self, uow: UnitOfWork, order: Order) -> _LockedOrder:
        items = list((await uow.session.execute(select(OrderItem).where(
            col(OrderItem.order_id) == order.id).order_by(col(OrderItem.id)))).scalars())
        deadline = _aware(order.payment_deadline)
        late = order.status == OrderStatus.CANCELLED.value or deadline <= datetime.now(UTC)
        return _LockedOrder(order, items, late=late)

    async def _refusal(self, uow: UnitOfWork, view: _LockedOrder) -> str | None:
        """A reason to refund before looking at the seats at all."""
        o = view.order
        if o.status not in (OrderStatus.CREATED.value, OrderStatus.CANCELLED.value):
            return "order already paid"
        if not late_payment_may_confirm(o.status, o.cancel_kind, o.close_reason):
            # Cancelled by the buyer, the organiser or the event: the buyer was told
            # "cancelled", so the money goes back; only a lapsed window may re-confirm.
            return f"order was cancelled ({o.close_reason or o.cancel_kind.lower()})"
        # On PostgreSQL a shared lock on the event row queues this confirmation behind a
        # cancellation's UPDATE of the event (and the reverse), so the cancellation's refund
        # job always sees every order confirmed before it (services/cancellation.py).
        q = select(col(Event.status)).where(col(Event.id) == view.order.event_id)
        if self.rt.db.is_postgres:
            q = q.with_for_update(read=True)
        if (await uow.session.execute(q)).scalar_one_or_none() == "CANCELLED":
            return "event cancelled"
        return None

    async def _seats_unsold(self, uow: UnitOfWork, view: _LockedOrder) -> bool:
        seats = [i.seat_id for i in view.items]
        rows = list((await uow.session.execute(
            select(Seat).where(col(Seat.id).in_(seats), col(Seat.event_id) == view.order.event_id)
            .order_by(col(Seat.id)).with_for_update())).scalars())
        return len(rows) == len(seats) and all(
            r.status == "AVAILABLE" and r.order_id is None for r in rows)

    async def _confirm_in(self, uow: UnitOfWork, payment_id: int, view: _LockedOrder) -> None:
        s = uow.session
        order = view.order
        seats = [i.seat_id for i in view.items]
        now = now_utc()
        await s.execute(CONFIRM_ORDER, {"b_order_id": order.id, "b_now": now})
        await s.execute(AUTHORIZE_PAYMENT, {"b_payment_id": payment_id, "b_now": now})
        await s.execute(SELL_SEATS, {"b_seat_ids": seats, "b_event_id": order.event_id,
                                     "b_order_id": order.id})
        self._emit(uow, EventType.PAYMENT_SUCCESS, view, paymentId=payment_id)
        self._emit(uow, EventType.ORDER_CONFIRMED, view, paymentId=payment_id, late=view.late)
        await issue_tickets(s, self.rt.settings.secret_key, order.event_id, order.id or 0,
                            view.items)

    async def _refund_in(
        self, uow: UnitOfWork, payment_id: int, view: _LockedOrder, reason: str
    ) -> None:
        """The provider took the money but the seats are gone: refund, cancel, tell the buyer.
        Redis first (release whatever this order still claims there), then the decision."""
        s = uow.session
        order = view.order
        seats = [i.seat_id for i in view.items]
        if order.status != OrderStatus.CONFIRMED.value:
            await self.rt.holds.unsell(order.event_id, order.lock_token, seats)
            await self.rt.holds.unlock_order(order.event_id, order.lock_token, seats)
        await s.execute(
            update(Payment).where(col(Payment.id) == payment_id)
            .values(status=PaymentStatus.REFUNDED.value, failure_reason=reason,
                    updated_at=now_utc()))
        self._emit(uow, EventType.PAYMENT_SUCCESS, view, paymentId=payment_id)
        self._emit(uow, EventType.PAYMENT_REFUNDED, view, paymentId=payment_id, reason=reason,
                   seats=view.taken)
        if order.status == OrderStatus.CREATED.value:
            await s.execute(
                update(Order).where(col(Order.id) == order.id)
                .values(status=OrderStatus.CANCELLED.value, closed_at=now_utc(),
                        updated_at=now_utc(), close_reason=f"{reason}; payment refunded",
                        cancel_kind=CancelKind.REFUNDED.value))
            self._emit(uow, EventType.ORDER_CANCELLED, view, reason=reason)

    async def apply_payment_failure(
        self, payment_id: int, status: PaymentStatus, reason: str
    ) -> str:
        """Saga compensation: payment failed or timed out -> order cancelled, seats released.
        Under the payment row's lock, like a success, so the two never interleave."""
        async with UnitOfWork(self.rt.db) as uow:
            payment, order = await self._lock_payment(uow, payment_id)
            if payment.status != PaymentStatus.PENDING.value:
                if order.status == OrderStatus.CANCELLED.value:
                    await self._release_redis(order)  # a repeat: make sure nothing is left
                return payment.status
            view = await self._items_view(uow, order)
            await uow.session.execute(
                update(Payment).where(col(Payment.id) == payment_id)
                .values(status=status.value, failure_reason=reason, updated_at=now_utc()))
            self._emit(uow, EventType.PAYMENT_FAILED, view, paymentId=payment_id, reason=reason,
                       paymentStatus=status.value)
            await self._cancel_in(uow, view, f"payment {status.value.lower()}",
                                  CancelKind.PAYMENT)
            closed = order.status in (OrderStatus.CREATED.value, OrderStatus.CANCELLED.value)
            await uow.commit()
        await fault_point(self.rt.settings, "payment.after_compensation_commit")
        if closed:
            await self._release_redis(order)
        return status.value

    async def _release_redis(self, order: Order) -> None:
        """Whatever a closed, unpaid order still claims in Redis: its seat locks, and seats a
        success run sold there before it stopped short of committing."""
        async with self.rt.db.read_sessions() as s:
            seats = list((await s.execute(select(col(OrderItem.seat_id)).where(
                col(OrderItem.order_id) == order.id))).scalars())
        await self.rt.holds.unlock_order(order.event_id, order.lock_token, seats)
        await self.rt.holds.unsell(order.event_id, order.lock_token, seats)

    async def _cancel_in(self, uow: UnitOfWork, view: OrderView, reason: str,
                         kind: CancelKind) -> bool:
        res = await uow.session.execute(
            update(Order)
            .where(col(Order.id) == view.order.id, col(Order.status) == OrderStatus.CREATED.value)
            .values(
                status=OrderStatus.CANCELLED.value,
                closed_at=now_utc(),
                updated_at=now_utc(),
                close_reason=reason,
                cancel_kind=kind.value,
            )
        )
        if res.rowcount == 1:  # type: ignore[attr-defined]
            self._emit(uow, EventType.ORDER_CANCELLED, view, reason=reason)
            return True
        return False

    async def _lock_order(self, uow: UnitOfWork, order_id: int) -> tuple[str, int]:
        """(status, payments PENDING) read under the order row's lock, so a payment cannot
        start between this look and the cancel's write: `PaymentService.start` takes the
        same lock and checks the status under it (PostgreSQL: FOR UPDATE, and READ COMMITTED
        gives the count that follows a fresh snapshot; SQLite: BEGIN IMMEDIATE serialises
        every writer already)."""
        q = select(col(Order.status)).where(col(Order.id) == order_id)
        if self.rt.db.is_postgres:
            q = q.with_for_update()
        status = (await uow.session.execute(q)).scalar_one()
        pending = (await uow.session.execute(
            select(func.count()).select_from(Payment).where(
                col(Payment.order_id) == order_id,
                col(Payment.status) == PaymentStatus.PENDING.value))).scalar_one()
        return str(status), int(pending)

    async def cancel(self, order_id: int, buyer: str | None, reason: str,
                     kind: CancelKind = CancelKind.BUYER) -> OrderView:
        """The buyer gives up before paying (or the expiry, or the event's cancellation, does
        it): seats go back on sale. Excludes a running payment atomically: the buyer is refused
        with PAYMENT_IN_PROGRESS, the expiry leaves the order to the payment; only an event's
        cancellation goes ahead, and the payment's success is then refunded (its cancel kind
        says so: a cancelled order is never charged in fact)."""
        view = await self.get(order_id, buyer)
        if view.order.status == OrderStatus.CANCELLED.value:
            return view
        if view.order.status != OrderStatus.CREATED.value:
            raise errors.Conflict(
                f"Order is {view.order.status}; only unpaid orders can be cancelled."
            )
        async with UnitOfWork(self.rt.db) as uow:
            status, pending = await self._lock_order(uow, order_id)
            if status != OrderStatus.CREATED.value:  # paid or cancelled since the first look
                cancelled = False
            elif pending and kind is CancelKind.BUYER:
                raise errors.PaymentInProgress(
                    "A payment for this order is in progress; wait for its outcome.",
                    [{"field": "orderId", "message": "payment PENDING"}])
            elif pending and kind is CancelKind.LAPSED:
                cancelled = False  # the payment decides (a late success: shared policy)
            else:
                if kind is CancelKind.BUYER:
                    # The buyer's choice frees the seats like a release: the orphan rule may
                    # refuse it (nothing changed anywhere then). Redis first, under the
                    # order's lock, so the check and the release are one step.
                    await self.rt.holds.unlock_order(
                        view.order.event_id, view.order.lock_token,
                        [i.seat_id for i in view.items], buyer_cancel=True)
                cancelled = await self._cancel_in(uow, view, reason, kind)
                await uow.commit()
        after = await self.get(order_id)
        if not cancelled:
            if after.order.status in (OrderStatus.CANCELLED.value, OrderStatus.CREATED.value):
                return after
            raise errors.Conflict(
                f"Order is {after.order.status}; only unpaid orders can be cancelled.")
        if kind is not CancelKind.BUYER:  # released after the commit, never refused
            await self.rt.holds.unlock_order(
                view.order.event_id, view.order.lock_token, [i.seat_id for i in view.items]
            )
        return after

    async def expire_overdue(self, limit: int = 500) -> int:
        """Orders past their payment window with no payment running are cancelled. Orders
        whose payment job is still running are left to it (a late success follows the
        late-payment policy) and do not take this pass's places."""
        now = datetime.now(UTC)
        running = (
            select(col(Payment.id))
            .where(col(Payment.order_id) == col(Order.id),
                   col(Payment.status) == PaymentStatus.PENDING.value)
            .exists()
        )
        async with self.rt.db.read_sessions() as s:
            overdue = list((await s.execute(
                select(col(Order.id))
                .where(col(Order.status) == OrderStatus.CREATED.value,
                       col(Order.payment_deadline) < now, ~running)
                .order_by(col(Order.payment_deadline))
                .limit(limit))).scalars())
        for order_id in overdue:
            await self.cancel(int(order_id), None, LAPSED_REASON, CancelKind.LAPSED)
        return len(overdue)

    # ---- refunds ------------------------------------------------------------------------
    async def refund(
        self, order_id: int, seat_ids: Sequence[int] | None = None, block: bool = False,
        reason: str = "refunded by organiser", actor: str = "",
    ) -> OrderView:
        """Refund a paid order, or some of its seats. Each seat is refunded once however often
        this runs (the order row is locked and every step is a guarded UPDATE); the order
        becomes REFUNDED when no seat is left. Seats return to sale, or stay blocked."""
        view = await self.get(order_id)
        order = view.order
        if order.status == OrderStatus.REFUNDED.value:
            await self._resync_refunded(view)  # a run cut off before Redis heard of it
            return view
        if order.status != OrderStatus.CONFIRMED.value:
            raise errors.Conflict(f"Order is {order.status}; only paid orders can be refunded.")
        wanted = None if seat_ids is None else set(int(x) for x in seat_ids)
        if wanted is not None:
            items = {i.seat_id: i for i in view.items}
            unknown = sorted(wanted - set(items))
            done = sorted(s for s in wanted & set(items) if items[s].refunded)
            if unknown or done or not wanted:
                raise errors.ValidationFailed(
                    "Choose seats of this order that are not refunded yet.",
                    [{"seatId": s, "status": "NOT_IN_ORDER"} for s in unknown]
                    + [{"seatId": s, "status": "REFUNDED"} for s in done])
        chosen = [i for i in view.items if not i.refunded and
                  (wanted is None or i.seat_id in wanted)]
        if not chosen:
            return view
        ids = [i.seat_id for i in chosen]
        amount = sum(i.price for i in chosen)
        async with UnitOfWork(self.rt.db) as uow:
            s = uow.session
            lock = select(col(Order.status)).where(col(Order.id) == order_id)
            if self.rt.db.is_postgres:
                lock = lock.with_for_update()  # concurrent partial refunds of one order queue
            if (await s.execute(lock)).scalar_one() != OrderStatus.CONFIRMED.value:
                return await self.get(order_id)
            marked = await s.execute(
                update(OrderItem)
                .where(
                    col(OrderItem.id).in_([i.id for i in chosen]),
                    col(OrderItem.refunded).is_(False),
                )
                .values(refunded=True)
            )
            if marked.rowcount != len(chosen):  # type: ignore[attr-defined]
                return await self.get(order_id)  # a concurrent refund did it (rolled back)
            await s.execute(update(Seat).where(col(Seat.id).in_(ids),
                                               col(Seat.order_id) == order_id)
                            .values(status="BLOCKED" if block else "AVAILABLE", order_id=None,
                                    version=Seat.version + 1))
            await s.execute(update(Ticket).where(col(Ticket.order_id) == order_id,
                                                 col(Ticket.seat_id).in_(ids))
                            .values(status="REFUNDED"))
            remaining = (await s.execute(select(func.count()).select_from(OrderItem).where(
                col(OrderItem.order_id) == order_id, col(OrderItem.refunded).is_(False))
            )).scalar_one()
            if remaining == 0:
                await s.execute(update(Order).where(col(Order.id) == order_id,
                                                    col(Order.status) == "CONFIRMED")
                                .values(status=OrderStatus.REFUNDED.value, closed_at=now_utc(),
                                        updated_at=now_utc(), close_reason=reason))
                await s.execute(update(Payment).where(col(Payment.order_id) == order_id,
                                                      col(Payment.status) == "AUTHORIZED")
                                .values(status=PaymentStatus.REFUNDED.value,
                                        updated_at=now_utc()))
            self._emit(uow, EventType.ORDER_REFUNDED, view, refundedSeatIds=ids,
                       amount=amount, full=remaining == 0, reason=reason, blocked=block)
            if actor:  # the organiser's refund is audited in the same transaction
                s.add(AuditLog(actor=actor, action="order.refund", target=f"order:{order_id}",
                               details={"seats": ids, "block": block, "amount": amount,
                                        "full": remaining == 0}))
            await uow.commit()
        await self.rt.holds.unsell(order.event_id, order.lock_token, ids, block=block)
        return await self.get(order_id)

    async def _resync_refunded(self, view: OrderView) -> None:
        """Redis forgets nothing it was told, but a crash between the commit and the Redis
        call leaves refunded seats sold there: tell it again (only seats still sold to this
        order's token change, so this is harmless when it already happened)."""
        ids = [i.seat_id for i in view.items if i.refunded]
        if not ids:
            return
        async with self.rt.db.read_sessions() as s:
            blocked = set((await s.execute(select(col(Seat.id)).where(
                col(Seat.id).in_(ids), col(Seat.status) == "BLOCKED"))).scalars())
        o = view.order
        free = [x for x in ids if x not in blocked]
        if free:
            await self.rt.holds.unsell(o.event_id, o.lock_token, free, block=False)
        if blocked:
            await self.rt.holds.unsell(o.event_id, o.lock_token, sorted(blocked), block=True)

    @staticmethod
    def new_lock_token() -> str:
        return uuid.uuid4().hex
