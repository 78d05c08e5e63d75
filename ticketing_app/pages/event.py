"""The event page: title, legend, hold countdown, cart drawer and the live seat map.

Built for a 390 px phone as well as a desktop: the header wraps, the map zooms and fits in its
own scrolling area (nothing else scrolls sideways), one countdown is on screen (the header's
while the cart is closed, the cart's while it is open), and until the map arrives the page
says it is loading.
"""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.best_available import best_available_panel
from ticketing_app.components.cart import cart_button, cart_drawer, countdown, holds_watcher
from ticketing_app.components.event_notice import event_notice
from ticketing_app.components.i18n import _, language_switcher
from ticketing_app.components.presale import presale_panel
from ticketing_app.components.seat_map import (
    legend,
    live_watcher,
    seat_grid,
    seat_info,
    zoom_controls,
)
from ticketing_app.components.waitlist import waitlist_panel
from ticketing_app.state.cart import CartState
from ticketing_app.state.seat_map import SeatMapState


def header() -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.link(_("All events"), href="/", size="2", id="all-events",
                    style={"display": "inline-flex", "align_items": "center",
                           "min_height": "44px"}),
            rx.heading(rx.cond(SeatMapState.loaded, SeatMapState.title, _("Loading…")),
                       size="7", id="event-title"),
            rx.text(SeatMapState.subtitle, color="gray", id="event-when"),
            spacing="1", style={"min_width": "0", "flex": "1 1 240px"},
        ),
        rx.vstack(rx.hstack(language_switcher(), cart_button(), align="center", wrap="wrap"),
                  rx.cond(CartState.open, rx.fragment(), countdown()),
                  align="end", spacing="2"),
        width="100%", align="start", wrap="wrap", gap="12px", justify="between",
    )


def event_page() -> rx.Component:
    return rx.container(
        rx.cond(
            SeatMapState.not_found,
            rx.heading(_("Event not found")),
            rx.vstack(
                header(),
                event_notice(),
                presale_panel(),
                waitlist_panel(),
                legend(),
                best_available_panel(),
                rx.hstack(rx.spacer(), zoom_controls(), width="100%"),
                seat_grid(),
                seat_info(),
                spacing="4",
                width="100%",
                style={"min_width": "0"},
            ),
        ),
        holds_watcher(),
        live_watcher(),
        cart_drawer(),
        padding_y="2em",
        padding_x="12px",
        size="4",
        style={"max_width": "100vw", "box_sizing": "border-box"},
    )
