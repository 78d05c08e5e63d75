"""Door staff's start page: the events they can check in (door staff may open nothing
else; managers see it too)."""

from __future__ import annotations

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain.roles import Capability
from ticketing_app.i18n import format_event_time
from ticketing_app.state.admin import AdminState, admin_only, needs
from ticketing_app.state.admin_words import status_text


class AdminDoorState(AdminState):
    events: list[dict[str, str]] = []

    @rx.event
    @needs(Capability.CHECK_IN)
    @admin_only
    async def load(self) -> None:
        rt = await get_runtime()
        events = [e for e in await rt.admin.list_events() if e.status in ("ON_SALE", "CLOSED")]
        self.events = [{"id": str(e.id), "title": e.title,
                        "when": format_event_time(e.starts_at, None),
                        "status": status_text(e.status),
                        "href": f"/admin/events/{e.id}/checkin"}
                       for e in sorted(events, key=lambda e: e.starts_at)]
