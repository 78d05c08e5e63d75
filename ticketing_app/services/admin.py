"""Organiser operations: venues and layouts, events and price tiers, sales control.

Every change is audited and pushed to Redis at once, so buyers see it live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlmodel import col

from ticketing_app.db.models import AuditLog, Event, PriceTier, Seat, Venue, VenueSeat, now_utc
from ticketing_app.domain import errors
from ticketing_app.services.uow import UnitOfWork

if TYPE_CHECKING:
    from ticketing_app.runtime import Runtime

EVENT_STATUSES = ("DRAFT", "ON_SALE", "CLOSED", "CANCELLED")


@dataclass(frozen=True)
class TierSpec:
    name: str
    price: int
    color: str = "#10b981"
    rows: tuple[int, ...] = ()  # rows this tier covers; empty = every row not claimed
    sections: tuple[str, ...] = ()


@dataclass(frozen=True)
class GridSpec:
    """A rectangular section; `gaps` are (row, col) positions with no seat (aisles, pillars)."""

    section: str
    rows: int
    cols: int
    gaps: frozenset[tuple[int, int]] = frozenset()


def grid_positions(spec: GridSpec) -> list[tuple[str, int, int]]:
    if not spec.section.strip():
        raise errors.ValidationFailed("Section name must not be empty.",
                                      [{"field": "section", "message": "required"}])
    if not (1 <= spec.rows <= 200 and 1 <= spec.cols <= 200):
        raise errors.ValidationFailed("Rows and columns must be between 1 and 200.",
                                      [{"field": "rows/cols", "message": "1-200"}])
    return [(spec.section.strip(), r, c) for r in range(1, spec.rows + 1)
            for c in range(1, spec.cols + 1) if (r, c) not in spec.gaps]


class AdminService:
    def __init__(self, rt: Runtime):
        self.rt = rt

    @staticmethod
    def audit(uow: UnitOfWork, actor: str, action: str, target: str, **details: Any) -> None:
        uow.session.add(AuditLog(actor=actor, action=action, target=target, details=details))

    async def create_venue(
        self, actor: str, name: str, grids: Sequence[GridSpec], address: str = ""
    ) -> Venue:
        if not name.strip():
            raise errors.ValidationFailed("Venue name must not be empty.",
                                          [{"field": "name", "message": "required"}])
        positions: list[tuple[str, int, int]] = []
        for g in grids:
            positions.extend(grid_positions(g))
        if not positions:
            raise errors.ValidationFailed("A venue needs at least one seat.")
        if len(set(positions)) != len(positions):
            raise errors.ValidationFailed("Duplicate seats in the layout.",
                                          [{"field": "layout", "message": "duplicate seat"}])
        async with UnitOfWork(self.rt.db) as uow:
            venue = Venue(name=name.strip(), address=address)
            uow.session.add(venue)
            await uow.session.flush()
            uow.session.add_all(VenueSeat(venue_id=int(venue.id or 0), section=sec, r=r, c=c)
                                for sec, r, c in positions)
            self.audit(uow, actor, "venue.create", f"venue:{venue.id}", name=name,
                       seats=len(positions))
            await uow.commit()
        return venue

    async def create_event(
        self, actor: str, *, title: str, starts_at: datetime, venue_id: int,
        tiers: Sequence[TierSpec], description: str = "", currency: str | None = None,
        status: str = "DRAFT", **settings: Any,
    ) -> Event:
        if not title.strip():
            raise errors.ValidationFailed("Title must not be empty.",
                                          [{"field": "title", "message": "required"}])
        if not tiers:
            raise errors.ValidationFailed("An event needs at least one price tier.",
                                          [{"field": "tiers", "message": "required"}])
        for t in tiers:
            if not t.name.strip() or t.price < 0:
                raise errors.ValidationFailed(
                    "Each tier needs a name and a price of zero or more.",
                    [{"field": "tiers", "message": f"invalid tier {t.name!r}"}])
        if len({t.name for t in tiers}) != len(tiers):
            raise errors.ValidationFailed("Tier names must be unique.")
        if status not in EVENT_STATUSES:
            raise errors.ValidationFailed(f"Unknown status {status}.")
        async with UnitOfWork(self.rt.db) as uow:
            s = uow.session
            venue_seats = list((await s.execute(select(VenueSeat).where(
                col(VenueSeat.venue_id) == venue_id))).scalars())
            if not venue_seats:
                raise errors.ValidationFailed("Venue not found or has no seats.",
                                              [{"field": "venueId", "message": "unknown"}])
            ev = Event(title=title.strip(), description=description, starts_at=starts_at,
                       venue_id=venue_id, status=status,
                       currency=(currency or self.rt.settings.currency).upper(),
                       hold_default_s=settings.pop("hold_default_s",
                                                   self.rt.settings.hold_default_s),
                       hold_min_s=settings.pop("hold_min_s", self.rt.settings.hold_min_s),
                       hold_max_s=settings.pop("hold_max_s", self.rt.settings.hold_max_s),
                       hold_max_total_s=settings.pop("hold_max_total_s",
                                                     self.rt.settings.hold_max_total_s),
                       max_seats_per_buyer=settings.pop("max_seats_per_buyer",
                                                        self.rt.settings.max_seats_per_buyer),
                       **settings)
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
            self.audit(uow, actor, "event.create", f"event:{ev.id}", title=title)
            await uow.commit()
        if status == "ON_SALE":
            await self.rt.catalog.refresh_event_state(int(ev.id or 0))
        return ev

    async def set_status(self, actor: str, event_id: int, status: str) -> Event:
        if status not in EVENT_STATUSES:
            raise errors.ValidationFailed(f"Unknown status {status}.",
                                          [{"field": "status", "message": "unknown"}])
        async with UnitOfWork(self.rt.db) as uow:
            ev = await uow.session.get(Event, event_id)
            if ev is None:
                raise errors.EventNotFound()
            if ev.status == "CANCELLED" and status != "CANCELLED":
                raise errors.Conflict("A cancelled event cannot be reopened.")
            previous = ev.status
            ev.status = status
            ev.updated_at = now_utc()
            self.audit(uow, actor, "event.status", f"event:{event_id}", old=previous, new=status)
            await uow.commit()
        await self.rt.catalog.refresh_event_state(event_id)
        return ev

    async def block_seats(self, actor: str, event_id: int, seat_ids: Sequence[int],
                          blocked: bool) -> int:
        """Production holds: Redis first (it refuses sold or ordered seats), then the DB."""
        await self.rt.catalog.get_event(event_id, fresh=True)
        changed = await self.rt.holds.block(event_id, seat_ids, blocked)
        async with UnitOfWork(self.rt.db) as uow:
            from sqlalchemy import update

            await uow.session.execute(
                update(Seat).where(col(Seat.id).in_(list(seat_ids)), col(Seat.event_id) == event_id,
                                   col(Seat.status) == ("AVAILABLE" if blocked else "BLOCKED"))
                .values(status="BLOCKED" if blocked else "AVAILABLE"))
            self.audit(uow, actor, "seats.block" if blocked else "seats.unblock",
                       f"event:{event_id}", seats=list(seat_ids))
            await uow.commit()
        return changed

    async def release_all_holds(self, actor: str, event_id: int) -> int:
        snap = await self.rt.catalog.snapshot(event_id)
        held = [sid for sid, st in snap.states.items() if st.code == "H"]
        n = await self.rt.holds.release(event_id, "", held, force=True) if held else 0
        async with UnitOfWork(self.rt.db) as uow:
            self.audit(uow, actor, "holds.release_all", f"event:{event_id}", released=n)
            await uow.commit()
        return n

    async def seat_counts(self, event_id: int) -> dict[str, int]:
        async with self.rt.db.read_sessions() as s:
            rows = (await s.execute(select(col(Seat.status), func.count()).where(
                col(Seat.event_id) == event_id).group_by(col(Seat.status)))).all()
        return {status: int(n) for status, n in rows}
