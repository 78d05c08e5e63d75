"""A buyer's tickets ("My tickets") and where they want them mailed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import BuyerContact, Event, Order, OrderItem, Ticket, now_utc
from ticketing_app.domain import errors
from ticketing_app.domain.events import iso
from ticketing_app.domain.seats import format_money
from ticketing_app.services.uow import UnitOfWork

EMAIL_RE = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class BuyerTicket:
    ticket_id: int
    order_id: int
    event_id: int
    event_title: str
    event_status: str
    starts_at: datetime
    seat: str
    tier: str
    price: int
    currency: str
    code: str
    status: str  # VALID, CHECKED_IN, REFUNDED, CANCELLED
    order_status: str
    checked_in_at: datetime | None

    @property
    def starts_at_text(self) -> str:
        return self.starts_at.strftime("%a %d %b %Y, %H:%M UTC")

    @property
    def price_text(self) -> str:
        return format_money(self.price, self.currency)

    @property
    def usable(self) -> bool:
        return self.status == "VALID" and self.event_status != "CANCELLED"

    def public(self) -> dict[str, Any]:
        return {
            "ticketId": self.ticket_id, "orderId": self.order_id, "eventId": self.event_id,
            "eventTitle": self.event_title, "eventStatus": self.event_status,
            "startsAt": iso(self.starts_at), "seat": self.seat, "tier": self.tier,
            "price": self.price, "currency": self.currency, "code": self.code,
            "status": self.status, "orderStatus": self.order_status,
            "checkedInAt": iso(self.checked_in_at),
        }


class BuyerTicketService:
    """Reads tickets and keeps buyers' e-mail addresses: the database only."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def for_buyer(self, buyer: str, order_id: int | None = None) -> list[BuyerTicket]:
        """Every ticket the buyer ever got, newest order first (refunded ones included, so a
        buyer sees what happened to them)."""
        return await self._tickets(buyer, order_id)

    async def for_order(self, order_id: int) -> list[BuyerTicket]:
        """One order's tickets, whoever bought it (the signed link in the confirmation
        mail opens them in any browser)."""
        return await self._tickets(None, order_id)

    async def _tickets(self, buyer: str | None, order_id: int | None) -> list[BuyerTicket]:
        async with self.db.read_sessions() as s:
            q = (select(Ticket, Order, OrderItem, Event)
                 .join(Order, col(Order.id) == col(Ticket.order_id))
                 .join(OrderItem, col(OrderItem.id) == col(Ticket.order_item_id))
                 .join(Event, col(Event.id) == col(Ticket.event_id))
                 .order_by(col(Order.id).desc(), col(Ticket.id)))
            if buyer is not None:
                q = q.where(col(Order.buyer_id) == buyer)
            if order_id is not None:
                q = q.where(col(Order.id) == order_id)
            rows = (await s.execute(q)).all()
        return [
            BuyerTicket(
                ticket_id=int(t.id or 0), order_id=int(o.id or 0), event_id=int(e.id or 0),
                event_title=e.title, event_status=e.status, starts_at=e.starts_at,
                seat=i.seat_label, tier=i.tier_name, price=i.price, currency=i.currency,
                code=t.code, status=t.status, order_status=o.status,
                checked_in_at=t.checked_in_at)
            for t, o, i, e in rows
        ]

    async def set_email(self, buyer: str, email: str, name: str | None = None) -> str:
        """Where the buyer's mail goes (empty: forget it), and their name when given (the
        box office finds orders and tickets by either)."""
        email = (email or "").strip()
        name = " ".join("".join(ch for ch in (name or "") if ch.isprintable() or ch == " ")
                        .split())[:200] or None
        if email and not EMAIL_RE.match(email):
            raise errors.ValidationFailed("That does not look like an e-mail address.",
                                          [{"field": "email", "message": "invalid"}])
        async with UnitOfWork(self.db) as uow:
            row = await uow.session.get(BuyerContact, buyer)
            if not email:
                if row is not None:
                    await uow.session.delete(row)
            elif row is None:
                uow.session.add(BuyerContact(buyer_id=buyer, email=email, name=name))
            else:
                row.email, row.updated_at = email, now_utc()
                if name is not None:
                    row.name = name
            await uow.commit()
        return email

    async def email_of(self, buyer: str) -> str:
        async with self.db.read_sessions() as s:
            row = await s.get(BuyerContact, buyer)
        return row.email if row else ""
