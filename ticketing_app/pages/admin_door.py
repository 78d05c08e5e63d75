"""Door staff's start page: the events to check in."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app import routes
from ticketing_app.components.admin_layout import admin_page
from ticketing_app.components.i18n import _
from ticketing_app.state.admin_door import AdminDoorState as D


def event_row(e: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.link(rx.card(rx.vstack(
        rx.text(e["title"].to(str), weight="bold", size="4"),
        rx.text(e["when"].to(str), " · ", e["status"].to(str), size="2", color="gray"),
        spacing="1")), href=e["href"].to(str), class_name="door-event", width="100%")


@admin_page(routes.ADMIN_DOOR, "Door", on_load=(D.load,))  # i18n: ignore
def admin_door_page() -> rx.Component:
    return rx.vstack(
        rx.heading(_("Check-in: choose the event"), size="6"),
        rx.cond(D.events.length() == 0,  # type: ignore[attr-defined]
                rx.text(_("No event is open for check-in."), color="gray")),
        rx.box(rx.foreach(D.events, event_row), id="door-events", width="100%"),
        spacing="3", width="100%", max_width="480px", margin="0 auto", align="stretch",
    )
