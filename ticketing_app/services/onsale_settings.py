"""The organiser's on-sale switches for one event: the per-buyer seat limit, the orphan-seat
rule and the waiting room (manual switch, automatic mode, admission rate, capacity and the
bot check's difficulty).

Changes are validated, audited, written to the database and pushed to Redis at once, so the
very next hold is judged by them. The admin REST routes and pages call this service.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from ticketing_app.db.models import AuditLog, Event, now_utc
from ticketing_app.domain import errors
from ticketing_app.domain.pow import MAX_BITS
from ticketing_app.holds.keys import WAITING_EVENTS
from ticketing_app.services.uow import UnitOfWork
from ticketing_app.services.waiting_room import room_mode

if TYPE_CHECKING:
    from ticketing_app.runtime import Runtime

# (lowest, highest) accepted for each numeric setting.
BOUNDS = {
    "max_seats_per_buyer": (1, 1000),
    "waiting_room_rate": (0, 100_000),  # 0 pauses admission
    "waiting_room_auto_threshold": (1, 1_000_000),
    "waiting_room_capacity": (0, 10_000_000),  # 0 = no cap
    "waiting_room_difficulty": (0, MAX_BITS),  # the bot check's bits; 0 = off
}


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
            for name, (lo, hi) in BOUNDS.items()
            if (v := getattr(self, name)) is not None and not lo <= v <= hi
        ]
        if bad:
            raise errors.ValidationFailed("Some on-sale settings are out of range.", bad)


async def update_onsale_settings(
    rt: Runtime, actor: str, event_id: int, settings: OnSaleSettings
) -> Event:
    settings.validate()
    changes = settings.changes()
    async with UnitOfWork(rt.db) as uow:
        ev = await uow.session.get(Event, event_id)
        if ev is None:
            raise errors.EventNotFound(f"Event {event_id} not found.")
        old = {k: getattr(ev, k) for k in changes}
        for k, v in changes.items():
            setattr(ev, k, v)
        ev.updated_at = now_utc()
        uow.session.add(AuditLog(actor=actor, action="event.onsale_settings",
                                 target=f"event:{event_id}", details={"old": old, "new": changes}))
        await uow.commit()
    await rt.catalog.refresh_event_state(event_id)
    if room_mode(ev) != "off":
        await rt.redis.sadd(WAITING_EVENTS, event_id)  # type: ignore[misc]
    return ev
