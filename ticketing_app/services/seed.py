"""Demo data: the original's three events, 10 x 10 seats priced 50000 + column x 1000."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlmodel import col

from ticketing_app.db.models import Event, Seat
from ticketing_app.services.admin import GridSpec, TierSpec
from ticketing_app.services.uow import UnitOfWork

if TYPE_CHECKING:
    from ticketing_app.runtime import Runtime

DEMO_EVENTS = (
    ("Ultra Concert 2025", "An arena night of electronic music.", 30),
    ("Indie Fest", "Five bands, one stage, all night.", 45),
    ("Classic Night", "A symphony orchestra plays Beethoven and Brahms.", 60),
)


async def seed_demo(rt: Runtime, actor: str = "seed") -> list[int]:
    """Creates the demo events if missing (safe to run at every start)."""
    ids: list[int] = []
    async with rt.db.read_sessions() as s:
        existing = {e.title: e.id for e in (await s.execute(select(Event))).scalars()}
    for title, description, days in DEMO_EVENTS:
        if title in existing:
            ids.append(int(existing[title] or 0))
            continue
        venue = await rt.admin.create_venue(actor, f"{title} Hall",
                                            [GridSpec("Main", rows=10, cols=10)])
        ev = await rt.admin.create_event(
            actor, title=title, description=description,
            starts_at=(datetime.now(UTC) + timedelta(days=days)).replace(
                hour=19, minute=0, second=0, microsecond=0),
            venue_id=int(venue.id or 0), tiers=[TierSpec("Standard", 50000)], currency="KRW",
            status="DRAFT")
        async with UnitOfWork(rt.db) as uow:
            await uow.session.execute(
                update(Seat).where(col(Seat.event_id) == ev.id)
                .values(price=50000 + col(Seat.c) * 1000))
            await uow.commit()
        await rt.admin.set_status(actor, int(ev.id or 0), "ON_SALE")
        ids.append(int(ev.id or 0))
    return ids
