"""The box office's reads and its one action besides refunds: find an order (by reference,
buyer name or e-mail, ticket code), read it whole (tickets, payments, refunds, its history
from the outbox and the audit log), resend its tickets, and find a ticket by name at the door.

Money here is what the order items say (each keeps its own copy of the price): an order's
paid amount is the sum of its items, the refunded amount the sum of the refunded ones, so a
partial refund leaves the right remaining total (the order's `total` column is what was paid
and never changes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import (
    AuditLog,
    BuyerContact,
    Event,
    Order,
    OrderItem,
    OutboxEvent,
    Payment,
    Ticket,
)
from ticketing_app.domain import errors
from ticketing_app.domain.events import EventType, iso
from ticketing_app.domain.orders import OrderStatus
from ticketing_app.services.order_records import OrderView, emit_order_event, load_view
from ticketing_app.services.uow import UnitOfWork

SEARCH_LIMIT = 50
QUERY_MAX = 200
TICKET_CODE_PREFIX = "TK1."
# Events of an order shown in its history (the outbox keeps them; aggregate = the order).
ORDER_HISTORY_TYPES = (
    EventType.ORDER_CREATED, EventType.PAYMENT_SUCCESS, EventType.PAYMENT_FAILED,
    EventType.ORDER_CONFIRMED, EventType.ORDER_CANCELLED, EventType.ORDER_REFUNDED,
    EventType.PAYMENT_REFUNDED, EventType.TICKETS_RESENT,
)


@dataclass(frozen=True)
class Money:
    """An order's money from its items: paid, refunded, and what is left."""

    paid: int
    refunded: int
    currency: str

    @property
    def remaining(self) -> int:
        return self.paid - self.refunded

    def public(self) -> dict[str, Any]:
        return {"paid": self.paid, "refunded": self.refunded, "remaining": self.remaining,
                "currency": self.currency}


PAID_STATUSES = (OrderStatus.CONFIRMED.value, OrderStatus.REFUNDED.value)


def order_money(view: OrderView) -> Money:
    """An order that was never paid (awaiting payment, cancelled) has paid nothing."""
    if view.order.status not in PAID_STATUSES:
        return Money(0, 0, view.order.currency)
    paid = sum(i.price for i in view.items)
    refunded = sum(i.price for i in view.items if i.refunded)
    return Money(paid, refunded, view.order.currency)


@dataclass(frozen=True)
class OrderHit:
    order: Order
    event_title: str
    name: str
    email: str
    seats: int
    money: Money

    def public(self) -> dict[str, Any]:
        o = self.order
        return {"orderId": o.id, "eventId": o.event_id, "eventTitle": self.event_title,
                "status": o.status, "buyerId": o.buyer_id, "name": self.name,
                "email": self.email, "seats": self.seats, "createdAt": iso(o.created_at),
                **self.money.public()}


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    kind: str  # an outbox event type, or an audit action
    source: str  # "event" (outbox) or "audit"
    actor: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {"at": iso(self.at), "kind": self.kind, "source": self.source,
                "actor": self.actor, "details": self.details}


@dataclass(frozen=True)
class OrderDetail:
    view: OrderView
    event: Event
    name: str
    email: str
    tickets: list[Ticket]
    payments: list[Payment]
    history: list[HistoryEntry]
    money: Money

    @property
    def refunds(self) -> list[HistoryEntry]:
        return [h for h in self.history if h.kind == EventType.ORDER_REFUNDED]

    def public(self) -> dict[str, Any]:
        return {
            **self.view.public(), "buyerId": self.view.order.buyer_id, "name": self.name,
            "email": self.email, "eventTitle": self.event.title, **self.money.public(),
            "tickets": [{"ticketId": t.id, "seatId": t.seat_id, "status": t.status,
                         "checkedInAt": iso(t.checked_in_at) if t.checked_in_at else None,
                         "checkedInBy": t.checked_in_by or None,
                         "gate": t.checked_in_gate or None} for t in self.tickets],
            "payments": [{"paymentId": p.id, "status": p.status, "amount": p.amount,
                          "currency": p.currency, "createdAt": iso(p.created_at),
                          "failureReason": p.failure_reason or None} for p in self.payments],
            "refunds": [{"at": iso(h.at), "amount": int(h.details.get("amount") or 0),
                         "seatIds": list(h.details.get("refundedSeatIds") or []),
                         "full": bool(h.details.get("full"))} for h in self.refunds],
            "history": [h.public() for h in self.history],
        }


@dataclass(frozen=True)
class DoorHit:
    ticket_id: int
    order_id: int
    seat: str
    tier: str
    name: str
    email: str
    status: str

    def public(self) -> dict[str, Any]:
        return {"ticketId": self.ticket_id, "orderId": self.order_id, "seat": self.seat,
                "tier": self.tier, "name": self.name, "email": self.email,
                "status": self.status}


def clean_query(q: str | None) -> str:
    """What was typed, without control characters (PostgreSQL text holds no NUL) and
    surrounding space, at most QUERY_MAX characters."""
    return "".join(ch for ch in (q or "") if ch.isprintable()).strip()[:QUERY_MAX]


def _like(q: str) -> str:
    """A LIKE pattern for `q` anywhere, its wildcards taken literally."""
    esc = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


def order_ref(q: str) -> int | None:
    """`313`, `#313` or `order 313` -> 313."""
    text = q.strip().lower().removeprefix("order").strip().lstrip("#").strip()
    return int(text) if text.isdigit() and 0 < len(text) <= 10 and int(text) < 2**31 else None


class BoxOfficeService:
    """Reads over orders, tickets and contacts in the database (`db`); a resend writes its
    event to the outbox, which the notifications consumer turns into the mail."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- search -------------------------------------------------------------------------
    async def search(self, q: str, event_id: int | None = None,
                     limit: int = SEARCH_LIMIT) -> list[OrderHit]:
        """Orders whose reference, buyer name, e-mail, buyer id or ticket code matches `q`
        (name and e-mail: any part, any case; a ticket code: the whole code or a part of at
        least 6 characters), newest first."""
        q = clean_query(q)
        if not q:
            return []
        conditions: list[ColumnElement[bool]] = []
        ref = order_ref(q)
        if ref is not None:
            conditions.append(col(Order.id) == ref)
        pattern = _like(q)
        contact_match = select(col(BuyerContact.buyer_id)).where(or_(
            func.lower(col(BuyerContact.email)).like(pattern, escape="\\"),
            func.lower(func.coalesce(col(BuyerContact.name), "")).like(pattern, escape="\\")))
        conditions.append(col(Order.buyer_id).in_(contact_match))
        conditions.append(col(Order.buyer_id) == q)
        if q.startswith(TICKET_CODE_PREFIX) or len(q) >= 6:
            code_match = select(col(Ticket.order_id)).where(
                col(Ticket.code) == q if q.startswith(TICKET_CODE_PREFIX) and len(q) > 40
                else func.lower(col(Ticket.code)).like(pattern, escape="\\"))
            conditions.append(col(Order.id).in_(code_match))
        stmt = select(Order).where(or_(*conditions)).order_by(col(Order.id).desc()).limit(
            max(1, min(limit, 200)))
        if event_id:
            stmt = stmt.where(col(Order.event_id) == event_id)
        async with self.db.read_sessions() as s:
            orders = list((await s.execute(stmt)).scalars())
        return await self._hits(orders)

    async def _hits(self, orders: list[Order]) -> list[OrderHit]:
        if not orders:
            return []
        ids = [int(o.id or 0) for o in orders]
        async with self.db.read_sessions() as s:
            items = list((await s.execute(select(OrderItem).where(
                col(OrderItem.order_id).in_(ids)))).scalars())
            contacts = {c.buyer_id: c for c in (await s.execute(select(BuyerContact).where(
                col(BuyerContact.buyer_id).in_({o.buyer_id for o in orders})))).scalars()}
            titles = dict((await s.execute(select(col(Event.id), col(Event.title)).where(
                col(Event.id).in_({o.event_id for o in orders})))).all())
        by_order: dict[int, list[OrderItem]] = {}
        for i in items:
            by_order.setdefault(i.order_id, []).append(i)
        out = []
        for o in orders:
            view = OrderView(o, by_order.get(int(o.id or 0), []))
            c = contacts.get(o.buyer_id)
            out.append(OrderHit(o, titles.get(o.event_id, ""), (c.name or "") if c else "",
                                c.email if c else "", len(view.items), order_money(view)))
        return out

    # ---- one order ------------------------------------------------------------------------
    async def order(self, order_id: int) -> OrderDetail:
        async with self.db.read_sessions() as s:
            order = await s.get(Order, order_id)
            if order is None:
                raise errors.OrderNotFound(f"Order {order_id} not found.")
            event = await s.get(Event, order.event_id)
            contact = await s.get(BuyerContact, order.buyer_id)
            tickets = list((await s.execute(select(Ticket).where(
                col(Ticket.order_id) == order_id).order_by(col(Ticket.id)))).scalars())
            payments = list((await s.execute(select(Payment).where(
                col(Payment.order_id) == order_id).order_by(col(Payment.id)))).scalars())
            outbox = list((await s.execute(select(OutboxEvent).where(
                or_(col(OutboxEvent.aggregate_id) == str(order_id),
                    col(OutboxEvent.aggregate_id).in_([str(t.id) for t in tickets])),
                col(OutboxEvent.event_type).in_(
                    [*ORDER_HISTORY_TYPES, EventType.TICKET_CHECKED_IN]))
                .order_by(col(OutboxEvent.id)))).scalars())
            audit = list((await s.execute(select(AuditLog).where(
                col(AuditLog.target) == f"order:{order_id}").order_by(col(AuditLog.id))
            )).scalars())
        if event is None:
            raise errors.OrderNotFound(f"Order {order_id} not found.")
        ticket_ids = {str(t.id) for t in tickets}
        history = [HistoryEntry(
            r.created_at, r.event_type, "event",
            str((r.payload.get("payload") or {}).get("checkedInBy") or ""),
            dict(r.payload.get("payload") or {}))
            for r in outbox if r.event_type != EventType.TICKET_CHECKED_IN
            or r.aggregate_id in ticket_ids]
        history += [HistoryEntry(a.created_at, a.action, "audit", a.actor, dict(a.details or {}))
                    for a in audit]
        history.sort(key=lambda h: h.at)
        view = await load_view(self.db, order)
        return OrderDetail(view, event, (contact.name or "") if contact else "",
                           contact.email if contact else "", tickets, payments, history,
                           order_money(view))

    async def resend_tickets(self, actor: str, order_id: int) -> OrderDetail:
        """Mails the order's tickets again, through the same path as the confirmation (an
        outbox event the notifications consumer turns into the mail), audited."""
        detail = await self.order(order_id)
        if detail.view.order.status != OrderStatus.CONFIRMED.value:
            raise errors.Conflict(f"Order is {detail.view.order.status}; only a paid order "
                                  "has tickets to send.")
        if not detail.email:
            raise errors.Conflict("The buyer left no e-mail address to send the tickets to.",
                                  [{"field": "email", "message": "missing"}])
        async with UnitOfWork(self.db) as uow:
            emit_order_event(uow, EventType.TICKETS_RESENT, detail.view, actor=actor,
                             amount=detail.money.remaining)
            uow.session.add(AuditLog(actor=actor, action="order.resend",
                                     target=f"order:{order_id}",
                                     details={"email": detail.email}))
            await uow.commit()
        return await self.order(order_id)

    # ---- the door -------------------------------------------------------------------------
    async def door_search(self, event_id: int, q: str, limit: int = 20) -> list[DoorHit]:
        """An event's tickets by the buyer's name or e-mail (any part), the order's
        reference, or the seat ("Row C seat 7"), for the door when a code will not scan."""
        q = clean_query(q)
        if len(q) < 2:
            return []
        pattern = _like(q)
        conditions: list[ColumnElement[bool]] = [
            func.lower(func.coalesce(col(BuyerContact.name), "")).like(pattern, escape="\\"),
            func.lower(func.coalesce(col(BuyerContact.email), "")).like(pattern, escape="\\"),
            func.lower(col(OrderItem.seat_label)).like(pattern, escape="\\"),
        ]
        if (ref := order_ref(q)) is not None:
            conditions.append(col(Ticket.order_id) == ref)
        stmt = (select(Ticket, OrderItem, BuyerContact)
                .join(OrderItem, col(OrderItem.id) == col(Ticket.order_item_id))
                .join(Order, col(Order.id) == col(Ticket.order_id))
                .outerjoin(BuyerContact, col(BuyerContact.buyer_id) == col(Order.buyer_id))
                .where(col(Ticket.event_id) == event_id, or_(*conditions))
                .order_by(col(Ticket.id)).limit(max(1, min(limit, 100))))
        async with self.db.read_sessions() as s:
            rows = (await s.execute(stmt)).all()
        return [DoorHit(int(t.id or 0), t.order_id, i.seat_label, i.tier_name,
                        (c.name or "") if c else "", c.email if c else "", t.status)
                for t, i, c in rows]

    async def ticket_code(self, event_id: int, ticket_id: int) -> str:
        """The code of one of the event's tickets (the door admits a ticket found by name
        through the same check as a scanned code)."""
        async with self.db.read_sessions() as s:
            t = await s.get(Ticket, ticket_id)
        if t is None or t.event_id != event_id:
            raise errors.NotFound(f"Ticket {ticket_id} not found for this event.")
        return t.code
