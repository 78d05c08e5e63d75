"""Orders: creation (idempotent), reads, the buyer's cancel and the expiry of unpaid orders.
The payment's outcome is `services/settlement.py`, refunds `services/refunds.py`.

Redis is the gate (holds, order locks, fenced by the order's lock token); the database is the
final arbiter: a seat is sold by a guarded UPDATE that only succeeds while the seat is free,
so even a Redis that lost its data cannot make two orders own one seat.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import Order, OrderItem, Payment, Seat, Ticket, now_utc
from ticketing_app.db.statements import (
    COMPLETE_CLAIM,
    INSERT_ORDER,
    INSERT_ORDER_ITEMS,
    ORDER_ID_AND_PRICES,
    WRITE_ORDER,
    complete_claim_params,
    row_of,
    write_order_params,
)
from ticketing_app.domain import errors
from ticketing_app.domain.buyers import BuyerDetails
from ticketing_app.domain.events import EventType
from ticketing_app.domain.idempotency import check_key, request_fingerprint
from ticketing_app.domain.orders import LAPSED_REASON, CancelKind, OrderStatus, PaymentStatus
from ticketing_app.domain.seat_layout import SeatInfo
from ticketing_app.faults import fault_point
from ticketing_app.holds.store import HoldStore
from ticketing_app.observability.metrics import record_committed_events
from ticketing_app.observability.tracing import current_trace_id
from ticketing_app.services.catalog import CatalogService
from ticketing_app.services.idempotency import IdempotencyStore
from ticketing_app.services.order_records import (
    OrderView,
    cancel_in,
    get_order,
    load_view,
    order_payload,
    orders_of_buyer,
    tickets_of_order,
)
from ticketing_app.services.refunds import RefundService
from ticketing_app.services.reservations import check_seat_ids
from ticketing_app.services.settlement import PaymentSettlement
from ticketing_app.services.uow import UnitOfWork, outbox_row
from ticketing_app.settings import Settings

__all__ = ["OrderService", "OrderView"]

# An order's row and its items' from the order's id (None: not known yet) and seat prices.
NewOrder = Callable[[int | None, dict[int, int]], tuple[Order, list[OrderItem]]]


class OrderService:
    """Orders as buyers see them: created idempotently from the buyer's holds (`holds`, the
    event from `catalog`), read, cancelled, expired. A payment's outcome is `settlement`'s
    and a refund `refunds`' (reached through here too, so the entry points ask one service)."""

    def __init__(self, db: Database, holds: HoldStore, catalog: CatalogService,
                 settlement: PaymentSettlement, refunds: RefundService,
                 settings: Settings) -> None:
        self.db = db
        self.holds = holds
        self.catalog = catalog
        self.settlement = settlement
        self.refunds = refunds
        self.settings = settings
        self.idem = IdempotencyStore(db, settings.idempotency_lease_s)

    # ---- creation -----------------------------------------------------------------------
    async def create(
        self,
        buyer: str,
        idempotency_key: str | None,
        event_id: int,
        seat_ids: Sequence[int],
        path: str = "/api/orders",
        buyer_details: BuyerDetails | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Returns (status code, body); replays the stored first answer for a repeated key.
        `buyer_details`: the name and address the confirmation goes to (the web app asks
        for them; the REST API takes them when given)."""
        key = check_key(idempotency_key)
        body: dict[str, Any] = {"eventId": event_id, "seatIds": list(seat_ids)}
        if buyer_details is not None:
            body["buyer"] = [buyer_details.name, buyer_details.email]
        claim = await self.idem.claim(
            buyer, key, "POST", path, request_fingerprint("POST", path, body)
        )
        if claim.replay is not None:
            return claim.replay
        try:
            code, out = await self._create(
                buyer, key, event_id, seat_ids, claim.lock_token, claim.record_id,
                claim.taken_over, buyer_details,
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
        buyer_details: BuyerDetails | None = None,
    ) -> tuple[int, dict[str, Any]]:
        seats = check_seat_ids(seat_ids)
        ev = await self.catalog.public_event(event_id)
        if ev.status != "ON_SALE":
            raise errors.SalesClosed()
        layout = await self.catalog.layout(event_id)
        self.catalog.validate_seat_ids(seats, layout)
        window = self.settings.order_payment_window_s
        deadline = datetime.now(UTC) + timedelta(seconds=window)
        deadline_ms = int(deadline.timestamp() * 1000)
        # Gate: only seats this buyer holds right now; they stay locked for the payment window.
        await self.holds.lock_for_order(event_id, buyer, token, deadline_ms, seats)
        try:
            await fault_point(self.settings, "order.after_lock")
            view = await self._write_order(
                buyer, key, ev.id or 0, ev.currency, seats, token, deadline, record_id,
                layout.by_id(), taken_over, buyer_details,
            )
        except Exception:
            # Give the seats back as holds so the buyer can retry; the record is abandoned.
            rehold = int((time.time() + ev.hold_default_s) * 1000)
            await self.holds.unlock_order(event_id, token, seats, rehold_until_ms=rehold)
            raise
        await fault_point(self.settings, "order.after_commit")
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
        layout: dict[int, SeatInfo],
        taken_over: bool = False,
        buyer_details: BuyerDetails | None = None,
    ) -> OrderView:
        if taken_over:
            # The order and its idempotency record's answer commit together, so a fresh claim
            # cannot have an order yet: only a takeover pays for this look-up (defence in depth).
            async with self.db.read_sessions() as s:
                existing = (await s.execute(
                    select(Order).where(col(Order.lock_token) == token))).scalar_one_or_none()
            if existing is not None:  # a taken-over request whose first attempt committed
                return await load_view(self.db, existing)
        new = partial(self._new_order, buyer, key, event_id, currency, seats, token, deadline,
                      buyer_details, layout)
        if self.db.is_postgres:
            return await self._write_at_once(new, event_id, seats, record_id)
        async with UnitOfWork(self.db) as uow:
            s = uow.session
            prices = dict((await s.execute(
                select(col(Seat.id), col(Seat.price))
                .where(col(Seat.id).in_(seats), col(Seat.event_id) == event_id)
            )).all())
            order, items = new(None, prices)
            # Prebuilt Core inserts, not the ORM's flush: this is the stampede's hot write path.
            order.id = (await s.execute(INSERT_ORDER, row_of(order))).scalar_one()
            for i in items:
                i.order_id = order.id
            await s.execute(INSERT_ORDER_ITEMS, [row_of(i) for i in items])
            view = OrderView(order, items)
            uow.emit(EventType.ORDER_CREATED, order.id or 0, event_id, order_payload(view))
            await s.execute(COMPLETE_CLAIM, complete_claim_params(record_id, 201, view.public()))
            await uow.commit()
        return view

    async def _write_at_once(self, new: NewOrder, event_id: int, seats: list[int],
                             record_id: int) -> OrderView:
        """PostgreSQL: the same rows in two round trips (db/statements.py, WRITE_ORDER) instead
        of seven; the one write statement commits alone, so all of it or none is there."""
        async with self.db.read_sessions() as s:
            order_id, ids, amounts = (await s.execute(
                ORDER_ID_AND_PRICES, {"b_seat_ids": seats, "b_event_id": event_id})).one()
        order, items = new(int(order_id), dict(zip(ids or [], amounts or [], strict=True)))
        view = OrderView(order, items)
        payload = order_payload(view)
        event, _ = outbox_row(EventType.ORDER_CREATED, order_id, event_id, payload)
        await self.db.write_one(WRITE_ORDER, write_order_params(
            {"id": order.id, **row_of(order)}, [row_of(i) for i in items], event,
            complete_claim_params(record_id, 201, view.public())))
        record_committed_events([(EventType.ORDER_CREATED, payload)])
        return view

    @staticmethod
    def _new_order(buyer: str, key: str, event_id: int, currency: str, seats: list[int],
                   token: str, deadline: datetime, buyer_details: BuyerDetails | None,
                   layout: dict[int, SeatInfo], order_id: int | None,
                   prices: dict[int, int]
                   ) -> tuple[Order, list[OrderItem]]:
        """The order's row and its items' (the items' order id is the order's, once known)."""
        now = now_utc()
        order = Order(
            id=order_id,
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
            buyer_name=buyer_details.name if buyer_details else None,
            buyer_email=buyer_details.email if buyer_details else None,
            locale=buyer_details.locale if buyer_details else "",
        )
        items = [
            OrderItem(
                order_id=order_id or 0,
                seat_id=sid,
                price=prices[sid],
                currency=currency,
                tier_name=layout[sid].tier_name,
                seat_label=layout[sid].label,
            )
            for sid in seats
        ]
        return order, items

    # ---- reads --------------------------------------------------------------------------
    async def get(self, order_id: int, buyer: str | None = None) -> OrderView:
        return await get_order(self.db, order_id, buyer)

    async def list_for_buyer(self, buyer: str, limit: int = 50) -> list[OrderView]:
        return await orders_of_buyer(self.db, buyer, limit)

    async def tickets_for_order(self, order_id: int) -> list[Ticket]:
        return await tickets_of_order(self.db, order_id)

    # ---- cancelling -----------------------------------------------------------------------
    async def _lock_order(self, uow: UnitOfWork, order_id: int) -> tuple[str, int]:
        """(status, payments PENDING) read under the order row's lock, so a payment cannot
        start between this look and the cancel's write: `PaymentService.start` takes the
        same lock and checks the status under it (PostgreSQL: FOR UPDATE, and READ COMMITTED
        gives the count that follows a fresh snapshot; SQLite: BEGIN IMMEDIATE serialises
        every writer already)."""
        q = select(col(Order.status)).where(col(Order.id) == order_id)
        if self.db.is_postgres:
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
        async with UnitOfWork(self.db) as uow:
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
                    await self.holds.unlock_order(
                        view.order.event_id, view.order.lock_token,
                        [i.seat_id for i in view.items], buyer_cancel=True)
                cancelled = await cancel_in(uow, view, reason, kind)
                await uow.commit()
        after = await self.get(order_id)
        if not cancelled:
            if after.order.status in (OrderStatus.CANCELLED.value, OrderStatus.CREATED.value):
                return after
            raise errors.Conflict(
                f"Order is {after.order.status}; only unpaid orders can be cancelled.")
        if kind is not CancelKind.BUYER:  # released after the commit, never refused
            await self.holds.unlock_order(
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
        async with self.db.read_sessions() as s:
            overdue = list((await s.execute(
                select(col(Order.id))
                .where(col(Order.status) == OrderStatus.CREATED.value,
                       col(Order.payment_deadline) < now, ~running)
                .order_by(col(Order.payment_deadline))
                .limit(limit))).scalars())
        for order_id in overdue:
            await self.cancel(int(order_id), None, LAPSED_REASON, CancelKind.LAPSED)
        return len(overdue)

    # ---- the payment's outcome and refunds (their own use cases) -------------------------
    async def apply_payment_success(self, payment_id: int) -> str:
        return await self.settlement.apply_payment_success(payment_id)

    async def apply_payment_failure(self, payment_id: int, status: PaymentStatus,
                                    reason: str) -> str:
        return await self.settlement.apply_payment_failure(payment_id, status, reason)

    async def refund(
        self, order_id: int, seat_ids: Sequence[int] | None = None, block: bool = False,
        reason: str = "refunded by organiser", actor: str = "",
    ) -> OrderView:
        return await self.refunds.refund(order_id, seat_ids, block, reason, actor)

    @staticmethod
    def new_lock_token() -> str:
        return uuid.uuid4().hex
