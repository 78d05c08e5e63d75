"""The event page: title, legend, hold countdown, cart drawer and the live seat map."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.best_available import best_available_panel
from ticketing_app.components.cart import cart_button, cart_drawer, countdown, holds_watcher
from ticketing_app.components.event_notice import event_notice
from ticketing_app.components.i18n import language_switcher
from ticketing_app.components.presale import presale_panel
from ticketing_app.components.seat_map import legend, live_watcher, seat_grid
from ticketing_app.components.waitlist import waitlist_panel
from ticketing_app.state.seat_map import SeatMapState


def header() -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.link("All events", href="/", size="2"),
            rx.heading(SeatMapState.title, size="7"),
            rx.text(SeatMapState.subtitle, color="gray"),
            spacing="1",
        ),
        rx.spacer(),
        rx.vstack(rx.hstack(language_switcher(), cart_button(), align="center"), countdown(),
                  align="end", spacing="2"),
        width="100%", align="start",
    )


def event_page() -> rx.Component:
    return rx.container(
        rx.cond(
            SeatMapState.not_found,
            rx.heading("Event not found"),
            rx.vstack(
                header(),
                event_notice(),
                presale_panel(),
                waitlist_panel(),
                legend(),
                best_available_panel(),
                seat_grid(),
                spacing="4",
            ),
        ),
        holds_watcher(),
        live_watcher(),
        cart_drawer(),
        padding_y="2em",
        size="4",
    )
