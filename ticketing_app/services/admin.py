"""Organiser operations: venues and layouts, events and price tiers, sales control.

Every change is validated as a whole before anything is written, audited in the same
transaction, and pushed to Redis at once (`CatalogService.refresh_event_state`), so buyers see it
live. Changes that would break a sale (a sold seat removed, a price changed under an open order)
are refused with a message that says which seats and orders are in the way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import col

from ticketing_app.db.models import (
    AuditLog,
    Event,
    Order,
    OrderItem,
    PriceTier,
    Seat,
    Ticket,
    VenueSeat,
    now_utc,
)
from ticketing_app.domain import errors
from ticketing_app.domain.checkins import TicketCheckedIn
from ticketing_app.domain.event_rules import (
    EVENT_STATUSES,
    EventSettings,
    TierSpec,
    check_settings,
    check_tiers,
    check_transition,
)
from ticketing_app.domain.layouts import GridSpec, Problems, grid_positions
from ticketing_app.domain.sale_settings import SaleSettings
from ticketing_app.services.admin_tiers import TierAdmin
from ticketing_app.services.admin_venues import VenueAdmin, VenueSummary
from ticketing_app.services.order_records import OrderView, get_order
from ticketing_app.services.uow import UnitOfWork

__all__ = ["EVENT_STATUSES", "AdminService", "GridSpec", "TierSpec", "VenueSummary",
           "grid_positions"]


@dataclass(frozen=True)
class RefundPreview:
    order_id: int
    seats: list[tuple[int, str]]  # (seat id, label) to refund
    amount: int  # paid back
    remaining: int  # what the order is still worth afterwards
    currency: str
    checked_in: list[tuple[int, str]]  # of those, already admitted at the door


class AdminService(VenueAdmin, TierAdmin):
    """The organiser's operations, by use case: venues (`admin_venues.py`), tiers and seats
    (`admin_tiers.py`), and here events, sales control and the admin pages' reads. Its
    collaborators are `AdminBase`'s."""

    # ---- events -----------------------------------------------------------------------
    async def create_event(
        self, actor: str, *, title: str, starts_at: datetime, venue_id: int,
        tiers: Sequence[TierSpec], description: str = "", currency: str | None = None,
        status: str = "DRAFT", **settings: Any,
    ) -> Event:
        cfg = self.settings
        # A sale setting not given: the installation's default where it has one (HOLD_*_S,
        # MAX_SEATS_PER_BUYER), else the declaration's.
        sale = {name: settings.pop(name, getattr(cfg, name, field.default))
                for name, field in SaleSettings.model_fields.items()}
        spec = EventSettings(title, starts_at, description=description,
                             currency=(currency or cfg.currency).upper(), **sale)
        problems = Problems()
        check_settings(spec, problems)
        check_tiers(list(tiers), problems)
        if status not in ("DRAFT", "ON_SALE", "CLOSED"):
            problems.add("status", "a new event starts as DRAFT, ON_SALE or CLOSED")
        problems.raise_if_any("Invalid event")
        async with UnitOfWork(self.db) as uow:
            s = uow.session
            venue_seats = list((await s.execute(select(VenueSeat).where(
                col(VenueSeat.venue_id) == venue_id))).scalars())
            if not venue_seats:
                raise errors.ValidationFailed("Venue not found or has no seats.",
                                              [{"field": "venueId", "message": "unknown"}])
            ev = Event(venue_id=venue_id, status=status, **spec.columns(), **settings)
            s.add(ev)
            await s.flush()
            tier_rows = [PriceTier(event_id=int(ev.id or 0), name=t.name.strip(), price=t.price,
                                   color=t.color) for t in tiers]
            s.add_all(tier_rows)
            await s.flush()
            default = next((tr for t, tr in zip(tiers, tier_rows, strict=True)
                            if not t.rows and not t.sections), tier_rows[-1])
            for vs in venue_seats:
                tier = default
                for t, tr in zip(tiers, tier_rows, strict=True):
                    if (t.rows and vs.r in t.rows) or (t.sections and vs.section in t.sections):
                        tier = tr
                        break
                s.add(Seat(event_id=int(ev.id or 0), section=vs.section, r=vs.r, c=vs.c,
                           features=vs.features, x=vs.x, y=vs.y, tier_id=tier.id,
                           price=tier.price))
            self.audit(uow, actor, "event.create", f"event:{ev.id}", title=spec.title.strip(),
                       venueId=venue_id, status=status,
                       tiers=[{"name": t.name, "price": t.price} for t in tiers])
            await uow.commit()
        await self.catalog.refresh_event_state(int(ev.id or 0))
        return ev

    async def update_event(self, actor: str, event_id: int, spec: EventSettings) -> Event:
        check_settings(spec)
        async with UnitOfWork(self.db) as uow:
            ev = await self._editable_event(uow, event_id)
            if spec.currency.upper() != ev.currency and await self._has_orders(uow, event_id):
                raise errors.Conflict("The currency cannot change once orders exist.",
                                      [{"field": "currency", "message": "orders exist"}])
            before = {k: getattr(ev, k) for k in spec.columns()}
            for k, v in spec.columns().items():
                setattr(ev, k, v)
            ev.updated_at = now_utc()
            changed = {k: {"old": str(before[k]), "new": str(v)}
                       for k, v in spec.columns().items() if before[k] != v}
            self.audit(uow, actor, "event.update", f"event:{event_id}", changes=changed)
            await uow.commit()
        await self.catalog.refresh_event_state(event_id)
        return ev

    async def set_status(self, actor: str, event_id: int, status: str) -> Event:
        async with UnitOfWork(self.db) as uow:
            ev = await self._event_for_update(uow, event_id)
            check_transition(ev.status, status)
            if status == "DRAFT" and ev.status != "DRAFT" and \
                    await self._has_orders(uow, event_id):
                raise errors.Conflict("An event with orders cannot go back to draft; close "
                                      "sales instead.")
            previous = ev.status
            ev.status = status
            ev.updated_at = now_utc()
            self.audit(uow, actor, "event.status", f"event:{event_id}", old=previous, new=status)
            await uow.commit()
        await self.catalog.refresh_event_state(event_id)
        return ev

    # ---- sales control ------------------------------------------------------------------
    async def block_seats(self, actor: str, event_id: int, seat_ids: Sequence[int],
                          blocked: bool) -> int:
        """Production holds. Redis refuses sold seats and seats in an open order atomically;
        the database row changes in the same transaction that is committed only after Redis
        agreed (and Redis is put back if that commit fails)."""
        ids = list(dict.fromkeys(int(x) for x in seat_ids))
        if not ids:
            raise errors.ValidationFailed("Choose seats.",
                                          [{"field": "seatIds", "message": "required"}])
        ev = await self.catalog.get_event(event_id, fresh=True)
        if ev.status == "CANCELLED":
            raise errors.Conflict("The event is cancelled.")
        layout = await self.catalog.layout(event_id, fresh=True)
        self.catalog.validate_seat_ids(ids, layout)
        async with UnitOfWork(self.db) as uow:
            await uow.session.execute(
                update(Seat).where(col(Seat.id).in_(ids), col(Seat.event_id) == event_id,
                                   col(Seat.status) == ("AVAILABLE" if blocked else "BLOCKED"),
                                   col(Seat.order_id).is_(None))
                .values(status="BLOCKED" if blocked else "AVAILABLE",
                        version=Seat.version + 1))
            changed = await self.holds.block(event_id, ids, blocked)
            self.audit(uow, actor, "seats.block" if blocked else "seats.unblock",
                       f"event:{event_id}", seats=ids, changed=changed)
            try:
                await uow.commit()
            except Exception:
                await self.holds.block(event_id, ids, not blocked)
                raise
        return changed

    async def release_all_holds(self, actor: str, event_id: int) -> int:
        """Ends every buyer's hold at once (not orders awaiting payment: they are paying)."""
        await self.catalog.get_event(event_id, fresh=True)
        n = await self.holds.release_all(event_id)
        async with UnitOfWork(self.db) as uow:
            self.audit(uow, actor, "holds.release_all", f"event:{event_id}", released=n)
            await uow.commit()
        return n

    async def seat_counts(self, event_id: int) -> dict[str, int]:
        async with self.db.read_sessions() as s:
            rows = (await s.execute(select(col(Seat.status), func.count()).where(
                col(Seat.event_id) == event_id).group_by(col(Seat.status)))).all()
        return {status: int(n) for status, n in rows}

    # ---- reads for the admin pages ------------------------------------------------------
    async def list_events(self) -> list[Event]:
        async with self.db.read_sessions() as s:
            return list((await s.execute(select(Event).order_by(col(Event.starts_at).desc(),
                                                                col(Event.id).desc()))).scalars())

    async def tiers(self, event_id: int) -> list[PriceTier]:
        async with self.db.read_sessions() as s:
            return list((await s.execute(select(PriceTier).where(
                col(PriceTier.event_id) == event_id).order_by(col(PriceTier.price).desc(),
                                                         col(PriceTier.id)))).scalars())

    async def tier_seat_counts(self, event_id: int) -> dict[int, int]:
        async with self.db.read_sessions() as s:
            rows = (await s.execute(select(col(Seat.tier_id), func.count()).where(
                col(Seat.event_id) == event_id).group_by(col(Seat.tier_id)))).all()
        return {int(t or 0): int(n) for t, n in rows}

    async def audit_rows(self, limit: int = 100, offset: int = 0, actor: str = "",
                         target: str = "") -> list[AuditLog]:
        async with self.db.read_sessions() as s:
            q = select(AuditLog).order_by(col(AuditLog.id).desc()).limit(limit).offset(offset)
            if actor:
                q = q.where(col(AuditLog.actor) == actor)
            if target:
                q = q.where(col(AuditLog.target) == target)
            return list((await s.execute(q)).scalars())

    async def orders_for_event(self, event_id: int, status: str = "", order_id: int = 0,
                               buyer: str = "", limit: int = 50) -> list[OrderView]:
        async with self.db.read_sessions() as s:
            q = select(Order).where(col(Order.event_id) == event_id).order_by(
                col(Order.id).desc()).limit(limit)
            if status:
                q = q.where(col(Order.status) == status)
            if order_id:
                q = q.where(col(Order.id) == order_id)
            if buyer:
                q = q.where(col(Order.buyer_id) == buyer)
            orders = list((await s.execute(q)).scalars())
            items = list((await s.execute(select(OrderItem).where(
                col(OrderItem.order_id).in_([o.id for o in orders])).order_by(
                col(OrderItem.id)))).scalars()) if orders else []
        by_order: dict[int, list[OrderItem]] = {}
        for i in items:
            by_order.setdefault(i.order_id, []).append(i)
        return [OrderView(o, by_order.get(int(o.id or 0), [])) for o in orders]

    async def refund(self, actor: str, order_id: int, seat_ids: Sequence[int] | None,
                     block: bool, allow_checked_in: bool = False) -> OrderView:
        """The organiser's refund (whole order or some seats), audited. A ticket already
        admitted at the door is refunded only when `allow_checked_in` says so."""
        preview = await self.refund_preview(order_id, seat_ids)
        if preview.checked_in and not allow_checked_in:
            raise TicketCheckedIn(
                "Already admitted at the door: " + ", ".join(
                    label for _, label in preview.checked_in) + ". Confirm to refund anyway.",
                [{"seatId": sid, "status": "CHECKED_IN"} for sid, _ in preview.checked_in])
        return await self.orders.refund(order_id, seat_ids, block=block, actor=actor)

    async def refund_preview(self, order_id: int, seat_ids: Sequence[int] | None
                             ) -> RefundPreview:
        """What a refund of these seats (None: every seat not refunded yet) would pay back,
        and which of them were already admitted at the door: the page's confirmation."""
        view = await get_order(self.db, order_id)
        wanted = None if seat_ids is None else {int(x) for x in seat_ids}
        chosen = [i for i in view.items if not i.refunded
                  and (wanted is None or i.seat_id in wanted)]
        ids = [i.seat_id for i in chosen]
        async with self.db.read_sessions() as s:
            used = set((await s.execute(select(col(Ticket.seat_id)).where(
                col(Ticket.order_id) == order_id, col(Ticket.seat_id).in_(ids),
                col(Ticket.status) == "CHECKED_IN"))).scalars()) if ids else set()
        remaining = sum(i.price for i in view.items if not i.refunded)
        amount = sum(i.price for i in chosen)
        return RefundPreview(order_id, [(i.seat_id, i.seat_label) for i in chosen], amount,
                             remaining - amount, view.order.currency,
                             [(i.seat_id, i.seat_label) for i in chosen if i.seat_id in used])

    async def record(self, actor: str, action: str, target: str, **details: Any) -> None:
        """An audit row for an action done elsewhere (login, refund, check-in)."""
        async with UnitOfWork(self.db) as uow:
            self.audit(uow, actor, action, target, **details)
            await uow.commit()

