"""An order as the order services read and change it: its view (the contract's shape), its
events for the outbox, the reads, and the guarded cancel that creation, settlement and the
expiry share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import Order, OrderItem, Ticket, now_utc
from ticketing_app.domain import errors
from ticketing_app.domain.events import EventType, iso
from ticketing_app.domain.orders import CancelKind, OrderStatus
from ticketing_app.observability.tracing import current_trace_id
from ticketing_app.services.uow import UnitOfWork


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
class LockedOrder(OrderView):
    """An order read under its payment's lock, with what the decision found out."""

    late: bool = False
    taken: list[dict[str, Any]] = field(default_factory=list)


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


async def load_view(db: Database, order: Order) -> OrderView:
    async with db.read_sessions() as s:
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


async def get_order(db: Database, order_id: int, buyer: str | None = None) -> OrderView:
    async with db.read_sessions() as s:
        order = await s.get(Order, order_id)
    if order is None:
        raise errors.OrderNotFound(f"Order {order_id} not found.")
    if buyer is not None and order.buyer_id != buyer:
        raise errors.Forbidden("This order belongs to another buyer.")
    return await load_view(db, order)


async def orders_of_buyer(db: Database, buyer: str, limit: int = 50) -> list[OrderView]:
    async with db.read_sessions() as s:
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
    return [await load_view(db, o) for o in orders]


async def tickets_of_order(db: Database, order_id: int) -> list[Ticket]:
    async with db.read_sessions() as s:
        return list(
            (
                await s.execute(
                    select(Ticket)
                    .where(col(Ticket.order_id) == order_id)
                    .order_by(col(Ticket.id))
                )
            ).scalars()
        )


def order_payload(view: OrderView, **extra: Any) -> dict[str, Any]:
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


def emit_order_event(uow: UnitOfWork, event_type: EventType, view: OrderView, **extra: Any
                     ) -> None:
    """The order's event, in the unit of work's transaction (the outbox)."""
    payload = order_payload(view, **extra)
    payload["eventType"] = event_type.value
    uow.emit(event_type, view.order.id or 0, view.order.event_id, payload)


async def cancel_in(uow: UnitOfWork, view: OrderView, reason: str, kind: CancelKind) -> bool:
    """Closes the order if it is still open (a guarded UPDATE) and emits ORDER_CANCELLED,
    in the caller's transaction; False when it was not open any more."""
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
        emit_order_event(uow, EventType.ORDER_CANCELLED, view, reason=reason)
        return True
    return False

