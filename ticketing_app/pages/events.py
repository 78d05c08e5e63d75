"""The event list."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app.bootstrap import get_runtime
from ticketing_app.components.i18n import language_switcher
from ticketing_app.domain.events import iso
from ticketing_app.routes import event_url
from ticketing_app.state.base import BuyerState


class EventListState(BuyerState):
    events: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)

    @rx.event
    async def load(self) -> None:
        rt = await get_runtime()
        self.events = [
            {"id": e.id, "title": e.title, "when": iso(e.starts_at), "url": event_url(e.id or 0),
             "description": e.description, "status": e.status}
            for e in await rt.catalog.list_events()
        ]


def event_card(e: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.card(
        rx.link(rx.heading(e["title"].to(str), size="5"), href=e["url"].to(str)),
        rx.text(e["when"].to(str), color="gray", size="2"),
        rx.text(e["description"].to(str)),
    )


def events_page() -> rx.Component:
    return rx.container(
        rx.hstack(rx.heading("Events", size="8"), rx.spacer(), language_switcher(),
                  width="100%", align="center", margin_bottom="1em"),
        rx.vstack(rx.foreach(EventListState.events, event_card), spacing="3"),
        padding_y="2em",
    )
