"""What every part of the organiser's service shares: its collaborators, the audit entry
written in the same transaction as the change it records, and reading an event for change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import AuditLog, Event, Order, Seat
from ticketing_app.domain import errors
from ticketing_app.domain.seats import seat_label
from ticketing_app.holds.store import HoldStore
from ticketing_app.services.catalog import CatalogService
from ticketing_app.services.orders import OrderService
from ticketing_app.services.uow import UnitOfWork
from ticketing_app.settings import Settings


def record_audit(uow: UnitOfWork, actor: str, action: str, target: str, **details: Any) -> None:
    """An audit row in the unit of work's transaction: the change and its record commit
    together."""
    uow.session.add(AuditLog(actor=actor, action=action, target=target, details=details))


def seat_names(seats: Sequence[Seat], limit: int = 5) -> str:
    names = [seat_label(s.section, s.r, s.c) for s in seats[:limit]]
    more = len(seats) - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


class AdminBase:
    """Writes go to the database (`db`) and reach Redis at once: the event's state through
    `catalog`, holds and blocks through `holds`; refunds go through `orders`; `settings` gives
    a new event's defaults."""

    audit = staticmethod(record_audit)

    def __init__(self, db: Database, holds: HoldStore, catalog: CatalogService,
                 orders: OrderService, settings: Settings) -> None:
        self.db = db
        self.holds = holds
        self.catalog = catalog
        self.orders = orders
        self.settings = settings

    async def _editable_event(self, uow: UnitOfWork, event_id: int) -> Event:
        """The event, locked for this change; a cancelled event is final."""
        ev = await self._event_for_update(uow, event_id)
        if ev.status == "CANCELLED":
            raise errors.Conflict("A cancelled event cannot be edited.")
        return ev

    async def _event_for_update(self, uow: UnitOfWork, event_id: int) -> Event:
        q = select(Event).where(col(Event.id) == event_id)
        if self.db.is_postgres:
            q = q.with_for_update()  # status changes and the cancellation queue on the row
        ev = (await uow.session.execute(q)).scalar_one_or_none()
        if ev is None:
            raise errors.EventNotFound(f"Event {event_id} not found.")
        return ev

    @staticmethod
    async def _has_orders(uow: UnitOfWork, event_id: int) -> bool:
        n = (await uow.session.execute(select(func.count()).select_from(Order).where(
            col(Order.event_id) == event_id))).scalar_one()
        return bool(n)

