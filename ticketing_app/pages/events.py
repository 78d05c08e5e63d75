"""The event list."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app.bootstrap import get_runtime
from ticketing_app.components import i18n as ui  # the browser's `_` (this module's is the server's)
from ticketing_app.components.i18n import language_switcher
from ticketing_app.i18n import N_, _
from ticketing_app.routes import event_url
from ticketing_app.state.base import BuyerState
from ticketing_app.state.seat_map import event_when_where

STATUS_TEXT = {"ON_SALE": N_("On sale"), "CLOSED": N_("Sales closed"),
               "CANCELLED": N_("Cancelled")}
STATUS_COLOUR = {"ON_SALE": "green", "CLOSED": "gray", "CANCELLED": "red"}


class EventListState(BuyerState):
    events: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)

    @rx.event
    async def load(self) -> None:
        rt = await get_runtime()
        self.events = [
            {"id": e.id, "title": e.title, "when": await event_when_where(rt, e),
             "url": event_url(e.id or 0), "description": e.description, "status": e.status,
             "status_text": _(STATUS_TEXT[e.status]) if e.status in STATUS_TEXT else e.status,
             "colour": STATUS_COLOUR.get(e.status, "gray"),
             "reason": _("Reason: {reason}", reason=e.cancel_reason)
             if e.status == "CANCELLED" and e.cancel_reason else ""}
            for e in await rt.catalog.list_events()
        ]


def event_card(e: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.link(rx.heading(e["title"].to(str), size="5"), href=e["url"].to(str)),
            rx.badge(e["status_text"].to(str), color_scheme=e["colour"].to(str),
                     class_name="event-status", data_status=e["status"].to(str)),
            align="center", spacing="3", wrap="wrap",
        ),
        rx.text(e["when"].to(str), color="gray", size="2"),
        rx.cond(e["reason"].to(str) != "",
                rx.text(e["reason"].to(str), color="red", size="2", class_name="event-reason")),
        rx.text(e["description"].to(str)),
        class_name="event-card", data_event=e["id"].to(str),
    )


def events_page() -> rx.Component:
    return rx.container(
        rx.hstack(rx.heading(ui._("Events"), size="8"), rx.spacer(), language_switcher(),
                  width="100%", align="center", margin_bottom="1em"),
        rx.vstack(rx.foreach(EventListState.events, event_card), spacing="3"),
        padding_y="2em",
    )
