"""The organiser's on-sale switches for one event: the per-buyer seat limit, the orphan-seat
rule and the waiting room (manual switch, automatic mode, admission rate, capacity and the
bot check's difficulty).

Changes are validated, audited, written to the database and pushed to Redis at once, so the
very next hold is judged by them. The admin REST routes and pages call this service.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from redis.asyncio import Redis

from ticketing_app.db.engine import Database
from ticketing_app.db.models import AuditLog, Event, now_utc
from ticketing_app.domain import errors
from ticketing_app.domain.sale_settings import ONSALE_BOUNDS, room_mode
from ticketing_app.holds.keys import WAITING_EVENTS
from ticketing_app.services.catalog import CatalogService
from ticketing_app.services.uow import UnitOfWork


@dataclass(frozen=True)
class OnSaleSettings:
    """Only the fields given (not None) change."""

    max_seats_per_buyer: int | None = None
    orphan_rule: bool | None = None
    waiting_room: bool | None = None
    waiting_room_auto: bool | None = None
    waiting_room_rate: int | None = None
    waiting_room_auto_threshold: int | None = None
    waiting_room_capacity: int | None = None
    waiting_room_difficulty: int | None = None

    def changes(self) -> dict[str, int | bool]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def validate(self) -> None:
        bad = [
            {"field": name, "message": f"must be between {lo} and {hi}"}
            for name, (lo, hi) in ONSALE_BOUNDS.items()
            if (v := getattr(self, name)) is not None and not lo <= v <= hi
        ]
        if bad:
            raise errors.ValidationFailed("Some on-sale settings are out of range.", bad)


class OnSaleSettingsService:
    """Writes the switches to the database (`db`), then the event's state in Redis through
    `catalog`; an event whose room may open joins the pacer's set in `redis`."""

    def __init__(self, db: Database, redis: Redis, catalog: CatalogService) -> None:
        self.db = db
        self.redis = redis
        self.catalog = catalog

    async def update(self, actor: str, event_id: int, settings: OnSaleSettings) -> Event:
        settings.validate()
        changes = settings.changes()
        async with UnitOfWork(self.db) as uow:
            ev = await uow.session.get(Event, event_id)
            if ev is None:
                raise errors.EventNotFound(f"Event {event_id} not found.")
            old = {k: getattr(ev, k) for k in changes}
            for k, v in changes.items():
                setattr(ev, k, v)
            ev.updated_at = now_utc()
            uow.session.add(AuditLog(actor=actor, action="event.onsale_settings",
                                     target=f"event:{event_id}",
                                     details={"old": old, "new": changes}))
            await uow.commit()
        await self.catalog.refresh_event_state(event_id)
        if room_mode(ev) != "off":
            await self.redis.sadd(WAITING_EVENTS, event_id)  # type: ignore[misc]
        return ev
