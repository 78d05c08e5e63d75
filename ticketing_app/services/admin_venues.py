"""The organiser's venues: seat layouts generated from grids or imported from CSV or JSON,
validated whole before anything is written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import col

from ticketing_app.db.models import Venue, VenueSeat
from ticketing_app.domain import errors
from ticketing_app.domain.access import AISLE, aisle_seats, format_features
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

