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
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlmodel import col

from ticketing_app.db.models import (
    AuditLog,
    Event,
    Order,
    OrderItem,
    PriceTier,
    Seat,
    Venue,
    VenueSeat,
    now_utc,
)
from ticketing_app.domain import errors
from ticketing_app.domain.event_rules import (
    EVENT_STATUSES,
    EventSettings,
    TierSpec,
    check_settings,
    check_tier,
    check_tiers,
    check_transition,
)
from ticketing_app.domain.layouts import (
    GridSpec,
    Position,
    Problems,
    check_positions,
    grid_positions,
    layout_from_grids,
    parse_layout,
)
from ticketing_app.domain.orders import OrderStatus
from ticketing_app.domain.pow import DEFAULT_BITS
from ticketing_app.domain.seats import seat_label
from ticketing_app.services.orders import OrderView
from ticketing_app.services.uow import UnitOfWork

if TYPE_CHECKING:
    from ticketing_app.runtime import Runtime

__all__ = ["EVENT_STATUSES", "AdminService", "GridSpec", "TierSpec", "grid_positions"]

VENUE_NAME_MAX = 200
ADDRESS_MAX = 500


@dataclass(frozen=True)
class VenueSummary:
    id: int
    name: str
    address: str
    seats: int
    sections: list[str]


def _seat_names(seats: Sequence[Seat], limit: int = 5) -> str:
    names = [seat_label(s.section, s.r, s.c) for s in seats[:limit]]
    more = len(seats) - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


class AdminService:
    def __init__(self, rt: Runtime):
        self.rt = rt

    @staticmethod
    def audit(uow: UnitOfWork, actor: str, action: str, target: str, **details: Any) -> None:
        uow.session.add(AuditLog(actor=actor, action=action, target=target, details=details))

    # ---- venues -----------------------------------------------------------------------
    async def create_venue(
        self, actor: str, name: str, grids: Sequence[GridSpec], address: str = ""
    ) -> Venue:
        """A venue from generated grids (rows x columns with gaps and aisles)."""
        self.check_venue_fields(name, address)
        positions = layout_from_grids(grids)
        return await self._write_venue(actor, name, address, positions, "grid")

    async def import_venue(self, actor: str, name: str, content: str, fmt: str,
                           address: str = "") -> Venue:
        """A venue from a CSV or JSON layout; nothing is written unless all of it is valid."""
        self.check_venue_fields(name, address)
        positions = parse_layout(content, fmt)
        return await self._write_venue(actor, name, address, positions, f"import:{fmt}")

    @staticmethod
    def preview_positions(grids: Sequence[GridSpec] | None = None, content: str = "",
                          fmt: str = "") -> list[Position]:
        """The same validation as creating, without writing (the form's preview)."""
        if grids is not None:
            return layout_from_grids(grids)
        return parse_layout(content, fmt)

    @staticmethod
    def check_venue_fields(name: str, address: str) -> None:
        p = Problems()
        if not name.strip():
            p.add("name", "venue name must not be empty")
        elif len(name.strip()) > VENUE_NAME_MAX:
            p.add("name", f"venue name longer than {VENUE_NAME_MAX} characters")
        if len(address) > ADDRESS_MAX:
            p.add("address", f"address longer than {ADDRESS_MAX} characters")
        p.raise_if_any("Invalid venue")

    async def _write_venue(self, actor: str, name: str, address: str,
                           positions: Sequence[Position], source: str) -> Venue:
        check_positions(positions, p := Problems())
        p.raise_if_any("Invalid layout")
        async with UnitOfWork(self.rt.db) as uow:
            venue = Venue(name=name.strip(), address=address.strip())
            uow.session.add(venue)
            await uow.session.flush()
            uow.session.add_all(VenueSeat(venue_id=int(venue.id or 0), section=sec, r=r, c=c)
                                for sec, r, c in positions)
            self.audit(uow, actor, "venue.create", f"venue:{venue.id}", name=name.strip(),
                       seats=len(positions), source=source)
            await uow.commit()
        return venue

    async def list_venues(self) -> list[VenueSummary]:
        async with self.rt.db.read_sessions() as s:
            venues = list((await s.execute(select(Venue).order_by(col(Venue.id).desc())))
                          .scalars())
            rows = (await s.execute(
                select(col(VenueSeat.venue_id), col(VenueSeat.section), func.count())
                .group_by(col(VenueSeat.venue_id), col(VenueSeat.section)))).all()
        counts: dict[int, int] = {}
        sections: dict[int, list[str]] = {}
        for vid, sec, n in rows:
            counts[vid] = counts.get(vid, 0) + int(n)
            sections.setdefault(vid, []).append(sec)
        return [VenueSummary(int(v.id or 0), v.name, v.address, counts.get(int(v.id or 0), 0),
                             sorted(sections.get(int(v.id or 0), []))) for v in venues]

    async def venue_positions(self, venue_id: int) -> list[Position]:
        async with self.rt.db.read_sessions() as s:
            rows = (await s.execute(
                select(col(VenueSeat.section), col(VenueSeat.r), col(VenueSeat.c))
                .where(col(VenueSeat.venue_id) == venue_id)
                .order_by(col(VenueSeat.r), col(VenueSeat.c)))).all()
        if not rows:
            raise errors.NotFound(f"Venue {venue_id} not found or has no seats.")
        return [(sec, int(r), int(c)) for sec, r, c in rows]

    # ---- events -----------------------------------------------------------------------
    async def create_event(
        self, actor: str, *, title: str, starts_at: datetime, venue_id: int,
        tiers: Sequence[TierSpec], description: str = "", currency: str | None = None,
        status: str = "DRAFT", **settings: Any,
    ) -> Event:
        cfg = self.rt.settings
        spec = EventSettings(
            title=title, starts_at=starts_at, description=description,
            currency=(currency or cfg.currency).upper(),
            hold_default_s=settings.pop("hold_default_s", cfg.hold_default_s),
            hold_min_s=settings.pop("hold_min_s", cfg.hold_min_s),
            hold_max_s=settings.pop("hold_max_s", cfg.hold_max_s),
            hold_max_total_s=settings.pop("hold_max_total_s", cfg.hold_max_total_s),
            max_seats_per_buyer=settings.pop("max_seats_per_buyer", cfg.max_seats_per_buyer),
            orphan_rule=settings.pop("orphan_rule", False),
            waiting_room=settings.pop("waiting_room", False),
            waiting_room_difficulty=settings.pop("waiting_room_difficulty", DEFAULT_BITS),
        )
        problems = Problems()
        check_settings(spec, problems)
        check_tiers(list(tiers), problems)
        if status not in ("DRAFT", "ON_SALE", "CLOSED"):
            problems.add("status", "a new event starts as DRAFT, ON_SALE or CLOSED")
        problems.raise_if_any("Invalid event")
        async with UnitOfWork(self.rt.db) as uow:
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
                           tier_id=tier.id, price=tier.price))
            self.audit(uow, actor, "event.create", f"event:{ev.id}", title=spec.title.strip(),
                       venueId=venue_id, status=status,
                       tiers=[{"name": t.name, "price": t.price} for t in tiers])
            await uow.commit()
        await self.rt.catalog.refresh_event_state(int(ev.id or 0))
        return ev

    async def update_event(self, actor: str, event_id: int, spec: EventSettings) -> Event:
        check_settings(spec)
        async with UnitOfWork(self.rt.db) as uow:
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
        await self.rt.catalog.refresh_event_state(event_id)
        return ev

    async def set_status(self, actor: str, event_id: int, status: str) -> Event:
        async with UnitOfWork(self.rt.db) as uow:
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
        await self.rt.catalog.refresh_event_state(event_id)
        return ev

    async def _editable_event(self, uow: UnitOfWork, event_id: int) -> Event:
        """The event, locked for this change; a cancelled event is final."""
        ev = await self._event_for_update(uow, event_id)
        if ev.status == "CANCELLED":
            raise errors.Conflict("A cancelled event cannot be edited.")
        return ev

    @staticmethod
    async def _tier_in(uow: UnitOfWork, event_id: int, tier_id: int) -> PriceTier:
        tier = await uow.session.get(PriceTier, tier_id)
        if tier is None or tier.event_id != event_id:
            raise errors.NotFound(f"Price tier {tier_id} not found in this event.")
        return tier

    async def _event_for_update(self, uow: UnitOfWork, event_id: int) -> Event:
        q = select(Event).where(col(Event.id) == event_id)
        if self.rt.db.is_postgres:
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

    # ---- tiers and seats ----------------------------------------------------------------
    async def add_tier(self, actor: str, event_id: int, name: str, price: int,
                       color: str) -> PriceTier:
        p = Problems()
        check_tier(name, price, color, "tier", p)
        p.raise_if_any("Invalid price tier")
        async with UnitOfWork(self.rt.db) as uow:
            await self._editable_event(uow, event_id)
            await self._check_tier_name_free(uow, event_id, name, None)
            tier = PriceTier(event_id=event_id, name=name.strip(), price=price, color=color)
            uow.session.add(tier)
            await uow.session.flush()
            self.audit(uow, actor, "tier.create", f"event:{event_id}", tierId=tier.id,
                       name=tier.name, price=price, color=color)
            await uow.commit()
        return tier

    async def update_tier(self, actor: str, event_id: int, tier_id: int, name: str,
                          price: int, color: str) -> PriceTier:
        """A price change reaches every seat of the tier; refused while any of them is in an
        order awaiting payment (the buyer is paying the price they were shown)."""
        p = Problems()
        check_tier(name, price, color, "tier", p)
        p.raise_if_any("Invalid price tier")
        async with UnitOfWork(self.rt.db) as uow:
            s = uow.session
            await self._editable_event(uow, event_id)
            tier = await self._tier_in(uow, event_id, tier_id)
            await self._check_tier_name_free(uow, event_id, name, tier_id)
            old = {"name": tier.name, "price": tier.price, "color": tier.color}
            if price != tier.price:
                seats = list((await s.execute(select(Seat).where(
                    col(Seat.event_id) == event_id, col(Seat.tier_id) == tier_id))).scalars())
                await self._refuse_open_orders(uow, seats, "change the price of")
                await s.execute(update(Seat).where(col(Seat.event_id) == event_id,
                                                   col(Seat.tier_id) == tier_id)
                                .values(price=price))
            tier.name, tier.price, tier.color = name.strip(), price, color
            self.audit(uow, actor, "tier.update", f"event:{event_id}", tierId=tier_id, old=old,
                       new={"name": tier.name, "price": price, "color": color})
            await uow.commit()
        self.rt.catalog.forget(event_id)
        await self.rt.catalog.refresh_event_state(event_id)
        return tier

    async def delete_tier(self, actor: str, event_id: int, tier_id: int) -> None:
        async with UnitOfWork(self.rt.db) as uow:
            s = uow.session
            await self._event_for_update(uow, event_id)
            tier = await self._tier_in(uow, event_id, tier_id)
            used = (await s.execute(select(func.count()).select_from(Seat).where(
                col(Seat.tier_id) == tier_id))).scalar_one()
            if used:
                raise errors.Conflict(
                    f"Tier {tier.name!r} still prices {used} seat(s); assign them to another "
                    "tier first.")
            await s.delete(tier)
            self.audit(uow, actor, "tier.delete", f"event:{event_id}", tierId=tier_id,
                       name=tier.name)
            await uow.commit()

    async def assign_tier(
        self, actor: str, event_id: int, tier_id: int, *, seat_ids: Sequence[int] = (),
        sections: Sequence[str] = (), rows: Sequence[int] = (),
    ) -> int:
        """Puts seats (by id, by whole section or by row) into a tier at the tier's price."""
        if not (seat_ids or sections or rows):
            raise errors.ValidationFailed("Choose seats, sections or rows to assign.",
                                          [{"field": "seats", "message": "required"}])
        async with UnitOfWork(self.rt.db) as uow:
            s = uow.session
            await self._editable_event(uow, event_id)
            tier = await self._tier_in(uow, event_id, tier_id)
            cond = [col(Seat.id).in_(list(seat_ids))] if seat_ids else []
            if sections:
                cond.append(col(Seat.section).in_(list(sections)))
            if rows:
                cond.append(col(Seat.r).in_(list(rows)))
            from sqlalchemy import or_

            seats = list((await s.execute(select(Seat).where(
                col(Seat.event_id) == event_id, or_(*cond)))).scalars())
            if seat_ids:
                unknown = set(seat_ids) - {x.id for x in seats}
                if unknown:
                    raise errors.ValidationFailed(
                        "Some seats are not in this event.",
                        [{"field": "seatIds", "message": f"unknown seat {u}"}
                         for u in sorted(unknown)[:20]])
            if not seats:
                raise errors.ValidationFailed("No seat matches that choice.",
                                              [{"field": "seats", "message": "none matched"}])
            repriced = [x for x in seats if x.price != tier.price]
            await self._refuse_open_orders(uow, repriced, "change the price of")
            ids = [int(x.id or 0) for x in seats]
            await s.execute(update(Seat).where(col(Seat.id).in_(ids))
                            .values(tier_id=tier_id, price=tier.price))
            self.audit(uow, actor, "tier.assign", f"event:{event_id}", tierId=tier_id,
                       tier=tier.name, seats=len(ids), sections=list(sections),
                       rows=list(rows))
            await uow.commit()
        self.rt.catalog.forget(event_id)
        await self.rt.catalog.refresh_event_state(event_id)
        return len(ids)

    async def remove_seats(self, actor: str, event_id: int, seat_ids: Sequence[int]) -> int:
        """Takes seats out of an event's layout: only in a draft, and never a seat any order
        ever touched (block such a seat instead, so its history stays whole)."""
        if not seat_ids:
            raise errors.ValidationFailed("Choose seats to remove.",
                                          [{"field": "seatIds", "message": "required"}])
        async with UnitOfWork(self.rt.db) as uow:
            s = uow.session
            ev = await self._event_for_update(uow, event_id)
            seats = list((await s.execute(select(Seat).where(
                col(Seat.event_id) == event_id, col(Seat.id).in_(list(seat_ids))))).scalars())
            unknown = set(seat_ids) - {x.id for x in seats}
            if unknown:
                raise errors.ValidationFailed(
                    "Some seats are not in this event.",
                    [{"field": "seatIds", "message": f"unknown seat {u}"}
                     for u in sorted(unknown)[:20]])
            sold = [x for x in seats if x.status == "SOLD" or x.order_id is not None]
            if sold:
                raise errors.Conflict(
                    f"Cannot remove sold seats: {_seat_names(sold)}. Refund them first.",
                    [{"seatId": x.id, "status": "SOLD", "orderId": x.order_id} for x in sold])
            if ev.status != "DRAFT":
                raise errors.Conflict(
                    "Seats can be removed only while the event is a draft (buyers may have "
                    "the map open); block them instead.")
            touched = set((await s.execute(select(col(OrderItem.seat_id)).where(
                col(OrderItem.seat_id).in_(list(seat_ids))))).scalars())
            if touched:
                bad = [x for x in seats if x.id in touched]
                raise errors.Conflict(
                    f"Seats with order history cannot be removed: {_seat_names(bad)}; block "
                    "them instead.",
                    [{"seatId": x.id, "status": "ORDERED"} for x in bad])
            await s.execute(delete(Seat).where(col(Seat.id).in_(list(seat_ids))))
            self.audit(uow, actor, "seats.remove", f"event:{event_id}",
                       seats=[seat_label(x.section, x.r, x.c) for x in seats])
            await uow.commit()
        await self.rt.holds.reset_event(event_id)
        self.rt.catalog.forget(event_id)
        await self.rt.catalog.load_event_state(event_id)
        return len(seats)

    async def _refuse_open_orders(self, uow: UnitOfWork, seats: Sequence[Seat],
                                  what: str) -> None:
        if not seats:
            return
        ids = [int(x.id or 0) for x in seats]
        q = select(col(OrderItem.seat_id), col(Order.id)).join(
            Order, col(Order.id) == col(OrderItem.order_id)).where(
            col(OrderItem.seat_id).in_(ids), col(Order.status) == OrderStatus.CREATED.value)
        if self.rt.db.is_postgres:
            await uow.session.execute(select(col(Seat.id)).where(col(Seat.id).in_(ids))
                                      .with_for_update())
        rows = (await uow.session.execute(q)).all()
        if rows:
            by_id = {x.id: x for x in seats}
            blocked = [by_id[sid] for sid, _ in rows]
            orders = sorted({oid for _, oid in rows})
            raise errors.Conflict(
                f"Cannot {what} {_seat_names(blocked)}: in order(s) awaiting payment "
                f"({', '.join(f'#{o}' for o in orders[:5])}). Try again when they are paid or "
                "expired.",
                [{"seatId": sid, "status": "ORDERED", "orderId": oid} for sid, oid in rows][:20])

    @staticmethod
    async def _check_tier_name_free(uow: UnitOfWork, event_id: int, name: str,
                                    tier_id: int | None) -> None:
        others = (await uow.session.execute(select(PriceTier).where(
            col(PriceTier.event_id) == event_id))).scalars()
        if any(t.name.strip().lower() == name.strip().lower() and t.id != tier_id
               for t in others):
            raise errors.ValidationFailed(f"A tier named {name.strip()!r} already exists.",
                                          [{"field": "name", "message": "duplicate"}])

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
        ev = await self.rt.catalog.get_event(event_id, fresh=True)
        if ev.status == "CANCELLED":
            raise errors.Conflict("The event is cancelled.")
        layout = await self.rt.catalog.layout(event_id, fresh=True)
        self.rt.catalog.validate_seat_ids(ids, layout)
        async with UnitOfWork(self.rt.db) as uow:
            await uow.session.execute(
                update(Seat).where(col(Seat.id).in_(ids), col(Seat.event_id) == event_id,
                                   col(Seat.status) == ("AVAILABLE" if blocked else "BLOCKED"),
                                   col(Seat.order_id).is_(None))
                .values(status="BLOCKED" if blocked else "AVAILABLE",
                        version=Seat.version + 1))
            changed = await self.rt.holds.block(event_id, ids, blocked)
            self.audit(uow, actor, "seats.block" if blocked else "seats.unblock",
                       f"event:{event_id}", seats=ids, changed=changed)
            try:
                await uow.commit()
            except Exception:
                await self.rt.holds.block(event_id, ids, not blocked)
                raise
        return changed

    async def release_all_holds(self, actor: str, event_id: int) -> int:
        """Ends every buyer's hold at once (not orders awaiting payment: they are paying)."""
        await self.rt.catalog.get_event(event_id, fresh=True)
        n = await self.rt.holds.release_all(event_id)
        async with UnitOfWork(self.rt.db) as uow:
            self.audit(uow, actor, "holds.release_all", f"event:{event_id}", released=n)
            await uow.commit()
        return n

    async def seat_counts(self, event_id: int) -> dict[str, int]:
        async with self.rt.db.read_sessions() as s:
            rows = (await s.execute(select(col(Seat.status), func.count()).where(
                col(Seat.event_id) == event_id).group_by(col(Seat.status)))).all()
        return {status: int(n) for status, n in rows}

    # ---- reads for the admin pages ------------------------------------------------------
    async def list_events(self) -> list[Event]:
        async with self.rt.db.read_sessions() as s:
            return list((await s.execute(select(Event).order_by(col(Event.starts_at).desc(),
                                                                col(Event.id).desc()))).scalars())

    async def tiers(self, event_id: int) -> list[PriceTier]:
        async with self.rt.db.read_sessions() as s:
            return list((await s.execute(select(PriceTier).where(
                col(PriceTier.event_id) == event_id).order_by(col(PriceTier.price).desc(),
                                                         col(PriceTier.id)))).scalars())

    async def tier_seat_counts(self, event_id: int) -> dict[int, int]:
        async with self.rt.db.read_sessions() as s:
            rows = (await s.execute(select(col(Seat.tier_id), func.count()).where(
                col(Seat.event_id) == event_id).group_by(col(Seat.tier_id)))).all()
        return {int(t or 0): int(n) for t, n in rows}

    async def audit_rows(self, limit: int = 100, offset: int = 0, actor: str = "",
                         target: str = "") -> list[AuditLog]:
        async with self.rt.db.read_sessions() as s:
            q = select(AuditLog).order_by(col(AuditLog.id).desc()).limit(limit).offset(offset)
            if actor:
                q = q.where(col(AuditLog.actor) == actor)
            if target:
                q = q.where(col(AuditLog.target) == target)
            return list((await s.execute(q)).scalars())

    async def orders_for_event(self, event_id: int, status: str = "", order_id: int = 0,
                               buyer: str = "", limit: int = 50) -> list[OrderView]:
        async with self.rt.db.read_sessions() as s:
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
                     block: bool) -> OrderView:
        """The organiser's refund (whole order or some seats), audited."""
        return await self.rt.orders.refund(order_id, seat_ids, block=block, actor=actor)

    async def record(self, actor: str, action: str, target: str, **details: Any) -> None:
        """An audit row for an action done elsewhere (login, refund, check-in)."""
        async with UnitOfWork(self.rt.db) as uow:
            self.audit(uow, actor, action, target, **details)
            await uow.commit()

