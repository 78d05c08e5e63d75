"""The event page: title, legend and live seat map."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.best_available import best_available_panel
from ticketing_app.components.event_notice import event_notice
from ticketing_app.components.seat_map import COLORS, seat_grid
from ticketing_app.state.seat_map import SeatMapState


def legend() -> rx.Component:
    items = [("Available", COLORS["A"]), ("Held", COLORS["H"]), ("Yours", COLORS["M"]),
             ("Sold", COLORS["S"])]
    return rx.hstack(*[rx.hstack(rx.box(width="14px", height="14px", background=c,
                                        border_radius="3px"), rx.text(t, size="2"))
                       for t, c in items], spacing="4")


def event_page() -> rx.Component:
    return rx.container(
        rx.cond(
            SeatMapState.not_found,
            rx.heading("Event not found"),
            rx.vstack(
                rx.link("All events", href="/"),
                rx.heading(SeatMapState.title, size="7"),
                rx.text(SeatMapState.subtitle, color="gray"),
                event_notice(),
                legend(),
                best_available_panel(),
                seat_grid(),
                spacing="4",
            ),
        ),
        padding_y="2em",
    )
