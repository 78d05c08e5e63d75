"""Demo data: the original's three events, 10 x 10 seats priced 50000 + column x 1000."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import Event, Seat
from ticketing_app.domain.event_rules import TierSpec
from ticketing_app.domain.layouts import GridSpec
from ticketing_app.services.admin import AdminService
from ticketing_app.services.uow import UnitOfWork

DEMO_EVENTS = (
    ("Ultra Concert 2025", "An arena night of electronic music.", 30),
    ("Indie Fest", "Five bands, one stage, all night.", 45),
    ("Classic Night", "A symphony orchestra plays Beethoven and Brahms.", 60),
)


async def seed_demo(db: Database, admin: AdminService, actor: str = "seed") -> list[int]:
    """Creates the demo events if missing (safe to run at every start), through the
    organiser's service like any event."""
    ids: list[int] = []
    async with db.read_sessions() as s:
        existing = {e.title: e.id for e in (await s.execute(select(Event))).scalars()}
    for title, description, days in DEMO_EVENTS:
        if title in existing:
            ids.append(int(existing[title] or 0))
            continue
        venue = await admin.create_venue(actor, f"{title} Hall",
                                         [GridSpec("Main", rows=10, cols=10)])
        ev = await admin.create_event(
            actor, title=title, description=description,
            starts_at=(datetime.now(UTC) + timedelta(days=days)).replace(
                hour=19, minute=0, second=0, microsecond=0),
            venue_id=int(venue.id or 0), tiers=[TierSpec("Standard", 50000)], currency="KRW",
            status="DRAFT")
        async with UnitOfWork(db) as uow:
            await uow.session.execute(
                update(Seat).where(col(Seat.event_id) == ev.id)
                .values(price=50000 + col(Seat.c) * 1000))
            await uow.commit()
        await admin.set_status(actor, int(ev.id or 0), "ON_SALE")
        ids.append(int(ev.id or 0))
    return ids
