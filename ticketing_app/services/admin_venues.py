"""The organiser's venues: seat layouts generated from grids or imported from CSV or JSON,
validated whole before anything is written, and changed later in the venue editor.

Events copy their venue's seats when they are created (`AdminService.create_event`): an
event's seat map, tiers, holds and Redis state are its own. So an edited layout applies to
events created afterwards, and events already created keep theirs untouched. Still, once any
event on the venue has sold a seat (or has an order awaiting payment), the layout describes a
house people hold tickets for: from then on it is read-only (the issue's rule, checked in the
transaction that writes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ticketing_app.db.models import Event, Order, Seat, Venue, VenueSeat
from ticketing_app.domain import errors
from ticketing_app.domain.access import AISLE, aisle_seats, format_features, stored_features
from ticketing_app.domain.layouts import (
    Features,
    GridSpec,
    Position,
    Problems,
    check_positions,
    layout_and_features_from_grids,
    layout_from_grids,
    parse_layout,
    parse_layout_features,
)
from ticketing_app.domain.venue_editor import (
    EditSeat,
    adopt_uids,
    at_grid,
    changes,
    check_layout,
    check_size,
    fingerprint,
    mark_new_aisles,
    stored_place,
)
from ticketing_app.i18n.formats import valid_zone
from ticketing_app.services.admin_base import AdminBase
from ticketing_app.services.uow import UnitOfWork

VENUE_NAME_MAX = 200
ADDRESS_MAX = 500


@dataclass(frozen=True)
class VenueSummary:
    id: int
    name: str
    address: str
    seats: int
    sections: list[str]
    time_zone: str = "Asia/Seoul"


# Orders that hold on to their seats: awaiting payment (a buyer's, a box-office reservation)
# or confirmed (sold; a partly refunded order keeps the rest).
OPEN_OR_SOLD = ("CREATED", "CONFIRMED")


@dataclass(frozen=True)
class VenueUse:
    """The events on a venue, and whether any of them sold seats (the layout is then
    read-only)."""

    events: tuple[str, ...]  # titles, newest first
    sold_seats: int
    orders: int  # open or confirmed

    @property
    def locked(self) -> bool:
        return bool(self.sold_seats or self.orders)


@dataclass(frozen=True)
class VenueLayout:
    """A venue opened in the editor: its seats as they are stored, their fingerprint (a save
    on top of a layout changed meanwhile is refused) and what uses it."""

    venue: VenueSummary
    seats: tuple[EditSeat, ...]
    fingerprint: str
    use: VenueUse


class VenueAdmin(AdminBase):
    """Venues need only the database."""

    async def create_venue(
        self, actor: str, name: str, grids: Sequence[GridSpec], address: str = "",
        time_zone: str = "",
    ) -> Venue:
        """A venue from generated grids (rows x columns with gaps and aisles). `time_zone`:
        IANA name, DEFAULT_TIME_ZONE when empty."""
        zone = self.check_venue_fields(name, address, time_zone)
        positions, features = layout_and_features_from_grids(grids)
        return await self._write_venue(actor, name, address, positions, "grid", zone, features)

    async def import_venue(self, actor: str, name: str, content: str, fmt: str,
                           address: str = "", time_zone: str = "") -> Venue:
        """A venue from a CSV or JSON layout; nothing is written unless all of it is valid."""
        zone = self.check_venue_fields(name, address, time_zone)
        positions, features = parse_layout_features(content, fmt)
        return await self._write_venue(actor, name, address, positions, f"import:{fmt}", zone,
                                       features)

    @staticmethod
    def preview_positions(grids: Sequence[GridSpec] | None = None, content: str = "",
                          fmt: str = "") -> list[Position]:
        """The same validation as creating, without writing (the form's preview)."""
        if grids is not None:
            return layout_from_grids(grids)
        return parse_layout(content, fmt)

    def check_venue_fields(self, name: str, address: str, time_zone: str = "") -> str:
        """Refuses an empty or long name, a long address, an unknown zone; returns the zone."""
        zone = time_zone.strip() or self.settings.default_time_zone
        p = Problems()
        if not valid_zone(zone):
            p.add("timeZone", f"{zone!r} is not a time zone name like Asia/Seoul")
        if not name.strip():
            p.add("name", "venue name must not be empty")
        elif len(name.strip()) > VENUE_NAME_MAX:
            p.add("name", f"venue name longer than {VENUE_NAME_MAX} characters")
        if len(address) > ADDRESS_MAX:
            p.add("address", f"address longer than {ADDRESS_MAX} characters")
        p.raise_if_any("Invalid venue")
        return zone

    async def _write_venue(self, actor: str, name: str, address: str,
                           positions: Sequence[Position], source: str, zone: str,
                           features: Features | None = None) -> Venue:
        check_positions(positions, p := Problems())
        p.raise_if_any("Invalid layout")
        marked = dict(features or {})
        for pos in aisle_seats(positions):
            marked[pos] = marked.get(pos, frozenset()) | {AISLE}
        async with UnitOfWork(self.db) as uow:
            venue = Venue(name=name.strip(), address=address.strip(), time_zone=zone)
            uow.session.add(venue)
            await uow.session.flush()
            uow.session.add_all(VenueSeat(venue_id=int(venue.id or 0), section=sec, r=r, c=c,
                                          features=format_features(marked.get((sec, r, c), ())))
                                for sec, r, c in positions)
            self.audit(uow, actor, "venue.create", f"venue:{venue.id}", name=name.strip(),
                       seats=len(positions), source=source, time_zone=zone)
            await uow.commit()
        return venue

    async def list_venues(self) -> list[VenueSummary]:
        async with self.db.read_sessions() as s:
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
                             sorted(sections.get(int(v.id or 0), [])), v.time_zone)
                for v in venues]

    async def venue_positions(self, venue_id: int) -> list[Position]:
        async with self.db.read_sessions() as s:
            rows = (await s.execute(
                select(col(VenueSeat.section), col(VenueSeat.r), col(VenueSeat.c))
                .where(col(VenueSeat.venue_id) == venue_id)
                .order_by(col(VenueSeat.r), col(VenueSeat.c)))).all()
        if not rows:
            raise errors.NotFound(f"Venue {venue_id} not found or has no seats.")
        return [(sec, int(r), int(c)) for sec, r, c in rows]


    # ---- the venue editor ---------------------------------------------------------------
    async def venue_for_edit(self, venue_id: int) -> VenueLayout:
        """The venue's layout as the editor opens it."""
        async with self.db.read_sessions() as s:
            venue = await s.get(Venue, venue_id)
            if venue is None:
                raise errors.NotFound(f"Venue {venue_id} not found.")
            seats = await self._edit_seats(s, venue_id)
            use = await self._venue_use(s, venue_id)
        return self._layout_of(venue, seats, use)

    async def save_venue_layout(self, actor: str, venue_id: int, seats: Sequence[EditSeat],
                                expected: str = "") -> VenueLayout:
        """Replaces the venue's layout with `seats`, validated whole (nothing is written
        unless all of it is valid). Refused when an event on the venue sold seats or has an
        order (checked in this transaction), and when `expected` (the fingerprint the editor
        opened) no longer names the stored layout. Events already created keep their seats;
        the audit row says what changed."""
        check_size(seats)
        check_layout(seats)
        async with UnitOfWork(self.db) as uow:
            s = uow.session
            q = select(Venue).where(col(Venue.id) == venue_id)
            if self.db.is_postgres:
                q = q.with_for_update()  # one editor's save at a time
            venue = (await s.execute(q)).scalar_one_or_none()
            if venue is None:
                raise errors.NotFound(f"Venue {venue_id} not found.")
            use = await self._venue_use(s, venue_id)
            if use.locked:
                raise errors.Conflict(
                    "Seats of this venue are sold or in an order for an event, so its layout "
                    "can no longer be changed.",
                    [{"field": "venue", "message": "seats sold", "soldSeats": use.sold_seats,
                      "orders": use.orders}])
            before = await self._edit_seats(s, venue_id)
            if expected and expected != fingerprint(before):
                raise errors.Conflict(
                    "The layout was changed by someone else since you opened it; reload it "
                    "and make your changes again.",
                    [{"field": "fingerprint", "message": "stale"}])
            after = mark_new_aisles(before, adopt_uids(before, seats))
            done = changes(before, after)
            await s.execute(delete(VenueSeat).where(col(VenueSeat.venue_id) == venue_id))
            await s.flush()
            for seat in after:
                x, y = stored_place(seat)
                s.add(VenueSeat(venue_id=venue_id, section=seat.section, r=seat.r, c=seat.c,
                                x=x, y=y, features=format_features(seat.features)))
            self.audit(uow, actor, "venue.layout", f"venue:{venue_id}", name=venue.name,
                       seats=len(after), added=done.added, removed=done.removed,
                       moved=done.moved, renumbered=done.renumbered, features=done.features,
                       sectionsAdded=list(done.sections_added),
                       sectionsRemoved=list(done.sections_removed))
            await uow.commit()
        return await self.venue_for_edit(venue_id)

    @staticmethod
    async def _edit_seats(s: AsyncSession, venue_id: int) -> tuple[EditSeat, ...]:
        rows = (await s.execute(
            select(col(VenueSeat.id), col(VenueSeat.section), col(VenueSeat.r),
                   col(VenueSeat.c), col(VenueSeat.x), col(VenueSeat.y),
                   col(VenueSeat.features))
            .where(col(VenueSeat.venue_id) == venue_id)
            .order_by(col(VenueSeat.section), col(VenueSeat.r), col(VenueSeat.c)))).all()
        return tuple(at_grid(sec, int(r), int(c), stored_features(f), int(sid or 0), x, y)
                     for sid, sec, r, c, x, y, f in rows)

    @staticmethod
    async def _venue_use(s: AsyncSession, venue_id: int) -> VenueUse:
        titles = [str(t) for t in (await s.execute(
            select(col(Event.title)).where(col(Event.venue_id) == venue_id)
            .order_by(col(Event.id).desc()))).scalars()]
        if not titles:
            return VenueUse((), 0, 0)
        on_venue = select(col(Event.id)).where(col(Event.venue_id) == venue_id)
        sold = (await s.execute(select(func.count()).select_from(Seat).where(
            col(Seat.event_id).in_(on_venue),
            or_(col(Seat.status) == "SOLD", col(Seat.order_id).is_not(None))))).scalar_one()
        orders = (await s.execute(select(func.count()).select_from(Order).where(
            col(Order.event_id).in_(on_venue),
            col(Order.status).in_(OPEN_OR_SOLD)))).scalar_one()
        return VenueUse(tuple(titles), int(sold), int(orders))

    @staticmethod
    def _layout_of(venue: Venue, seats: tuple[EditSeat, ...], use: VenueUse) -> VenueLayout:
        names = sorted({x.section for x in seats})
        summary = VenueSummary(int(venue.id or 0), venue.name, venue.address, len(seats),
                               names, venue.time_zone)
        return VenueLayout(summary, seats, fingerprint(seats), use)
