"""An event's figures for the organiser: the orders, the attendees (the door list, with each
ticket's check-in), sales by tier and by day, and the settlement (gross, refunds, net).

Everything is read from the database, the source of truth (not the Kafka-fed projection that
the live dashboard shows): an item's own price is what was paid for it. Refunds by day come
from the ORDER_REFUNDED events in the outbox (each carries its amount and when it happened).
The row lists are async generators that read in pages by id, so an export of a stadium
streams in constant memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import (
    BuyerContact,
    Event,
    Order,
    OrderItem,
    OutboxEvent,
    PriceTier,
    Seat,
    Ticket,
    Venue,
)
from ticketing_app.domain import errors
from ticketing_app.domain.events import EventType, iso
from ticketing_app.domain.orders import OrderStatus
from ticketing_app.i18n import zone

PAGE = 500
SOLD_STATUSES = (OrderStatus.CONFIRMED.value, OrderStatus.REFUNDED.value)


@dataclass(frozen=True)
class TierLine:
    tier: str
    capacity: int
    sold: int  # tickets sold and not refunded
    refunded: int  # tickets refunded
    gross: int
    refunds: int

    @property
    def net(self) -> int:
        return self.gross - self.refunds

    @property
    def percent(self) -> float:
        return 100.0 * self.sold / self.capacity if self.capacity else 0.0

    def public(self) -> dict[str, Any]:
        return {"tier": self.tier, "capacity": self.capacity, "sold": self.sold,
                "refunded": self.refunded, "percentSold": round(self.percent, 1),
                "gross": self.gross, "refunds": self.refunds, "net": self.net}


@dataclass(frozen=True)
class DayLine:
    day: date
    orders: int
    tickets: int
    gross: int
    refunds: int

    @property
    def net(self) -> int:
        return self.gross - self.refunds

    @property
    def day_start(self) -> datetime:
        """Noon of the (venue's) day as a UTC time: formatted in UTC it is that day."""
        return datetime(self.day.year, self.day.month, self.day.day, 12, tzinfo=UTC)

    def public(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "orders": self.orders, "tickets": self.tickets,
                "gross": self.gross, "refunds": self.refunds, "net": self.net}


@dataclass(frozen=True)
class Report:
    event_id: int
    title: str
    currency: str
    time_zone: str
    tiers: list[TierLine]
    days: list[DayLine]

    @property
    def gross(self) -> int:
        return sum(t.gross for t in self.tiers)

    @property
    def refunds(self) -> int:
        return sum(t.refunds for t in self.tiers)

    @property
    def net(self) -> int:
        return self.gross - self.refunds

    def public(self) -> dict[str, Any]:
        return {"eventId": self.event_id, "title": self.title, "currency": self.currency,
                "timeZone": self.time_zone,
                "settlement": {"gross": self.gross, "refunds": self.refunds, "net": self.net,
                               "ticketsSold": sum(t.sold for t in self.tiers),
                               "ticketsRefunded": sum(t.refunded for t in self.tiers),
                               "capacity": sum(t.capacity for t in self.tiers)},
                "byTier": [t.public() for t in self.tiers],
                "byDay": [d.public() for d in self.days]}


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class ReportService:
    """Reads only, from the database (`db`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _event(self, event_id: int) -> tuple[Event, str]:
        async with self.db.read_sessions() as s:
            ev = await s.get(Event, event_id)
            if ev is None:
                raise errors.EventNotFound(f"Event {event_id} not found.")
            venue = await s.get(Venue, ev.venue_id) if ev.venue_id else None
        return ev, venue.time_zone if venue else "UTC"

    async def report(self, event_id: int) -> Report:
        ev, tz = await self._event(event_id)
        async with self.db.read_sessions() as s:
            tiers = list((await s.execute(select(PriceTier).where(
                col(PriceTier.event_id) == event_id).order_by(col(PriceTier.price).desc(),
                                                         col(PriceTier.id)))).scalars())
            capacity = dict((await s.execute(select(col(Seat.tier_id), func.count()).where(
                col(Seat.event_id) == event_id).group_by(col(Seat.tier_id)))).all())
            items = (await s.execute(
                select(col(OrderItem.tier_name), col(OrderItem.refunded), col(OrderItem.price),
                       col(Order.id), col(Order.confirmed_at), col(Order.created_at))
                .join(Order, col(Order.id) == col(OrderItem.order_id))
                .where(col(Order.event_id) == event_id,
                       col(Order.status).in_(SOLD_STATUSES)))).all()
            refunds = (await s.execute(select(OutboxEvent).where(
                col(OutboxEvent.partition_key) == str(event_id),
                col(OutboxEvent.event_type) == EventType.ORDER_REFUNDED.value))).scalars()
            refund_rows = [(r.created_at, int((r.payload.get("payload") or {}).get("amount")
                                              or 0)) for r in refunds]
        z = zone(tz)
        by_tier: dict[str, list[int]] = {}  # sold, refunded, gross, refunds
        by_day: dict[date, list[Any]] = {}  # orders(set), tickets, gross, refunds
        for tier_name, refunded, price, order_id, confirmed_at, created_at in items:
            t = by_tier.setdefault(tier_name, [0, 0, 0, 0])
            t[0 if not refunded else 1] += 1
            t[2] += price
            t[3] += price if refunded else 0
            day = _aware(confirmed_at or created_at).astimezone(z).date()
            d = by_day.setdefault(day, [set(), 0, 0, 0])
            d[0].add(order_id)
            d[1] += 1
            d[2] += price
        for at, amount in refund_rows:
            day = _aware(at).astimezone(z).date()
            by_day.setdefault(day, [set(), 0, 0, 0])[3] += amount
        names = [t.name for t in tiers]
        lines = [TierLine(t.name, int(capacity.get(t.id, 0)), *by_tier.get(t.name, [0, 0, 0, 0]))
                 for t in tiers]
        # Items whose tier was renamed or deleted since: their own line, never lost.
        lines += [TierLine(name, 0, *v) for name, v in sorted(by_tier.items())
                  if name not in names]
        days = [DayLine(day, len(v[0]), v[1], v[2], v[3]) for day, v in sorted(by_day.items())]
        return Report(event_id, ev.title, ev.currency, tz, lines, days)

    async def order_rows(self, event_id: int) -> AsyncIterator[dict[str, Any]]:
        """Every order of the event (all statuses), oldest first, with its money."""
        await self._event(event_id)
        after = 0
        while True:
            async with self.db.read_sessions() as s:
                orders = list((await s.execute(select(Order).where(
                    col(Order.event_id) == event_id, col(Order.id) > after).order_by(
                    col(Order.id)).limit(PAGE))).scalars())
                if not orders:
                    return
                ids = [o.id for o in orders]
                items = (await s.execute(select(col(OrderItem.order_id), col(OrderItem.price),
                                                col(OrderItem.refunded)).where(
                    col(OrderItem.order_id).in_(ids)))).all()
                contacts = {c.buyer_id: c for c in (await s.execute(select(BuyerContact).where(
                    col(BuyerContact.buyer_id).in_({o.buyer_id for o in orders})))).scalars()}
            money: dict[int, list[int]] = {}
            for oid, price, refunded in items:
                m = money.setdefault(oid, [0, 0, 0])
                m[0] += 1
                m[1] += price
                m[2] += price if refunded else 0
            for o in orders:
                c = contacts.get(o.buyer_id)
                n, paid, refunded = money.get(int(o.id or 0), [0, 0, 0])
                yield {"order": o.id, "status": o.status, "created_at": iso(o.created_at),
                       "confirmed_at": iso(o.confirmed_at) if o.confirmed_at else "",
                       "buyer_id": o.buyer_id, "name": (c.name or "") if c else "",
                       "email": c.email if c else "", "seats": n, "currency": o.currency,
                       "paid": paid if o.status in SOLD_STATUSES else 0,
                       "refunded": refunded, "remaining": (paid - refunded)
                       if o.status in SOLD_STATUSES else 0}
            after = int(orders[-1].id or 0)

    async def attendee_rows(self, event_id: int) -> AsyncIterator[dict[str, Any]]:
        """Every ticket of the event (the door list): seat, tier, buyer, its state and,
        when it was admitted, when, by whom and at which gate."""
        await self._event(event_id)
        after = 0
        while True:
            async with self.db.read_sessions() as s:
                rows = (await s.execute(
                    select(Ticket, OrderItem, Order, BuyerContact)
                    .join(OrderItem, col(OrderItem.id) == col(Ticket.order_item_id))
                    .join(Order, col(Order.id) == col(Ticket.order_id))
                    .outerjoin(BuyerContact, col(BuyerContact.buyer_id) == col(Order.buyer_id))
                    .where(col(Ticket.event_id) == event_id, col(Ticket.id) > after)
                    .order_by(col(Ticket.id)).limit(PAGE))).all()
            if not rows:
                return
            for t, i, o, c in rows:
                yield {"ticket": t.id, "order": o.id, "seat": i.seat_label, "tier": i.tier_name,
                       "name": (c.name or "") if c else "", "email": c.email if c else "",
                       "status": t.status, "checked_in": "yes" if t.checked_in_at else "no",
                       "checked_in_at": iso(t.checked_in_at) if t.checked_in_at else "",
                       "checked_in_by": t.checked_in_by, "gate": t.checked_in_gate}
            after = int(rows[-1][0].id or 0)
