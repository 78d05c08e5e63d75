"""A "best available" control the seat page includes: N seats together, in a tier."""

from __future__ import annotations

import reflex as rx

from ticketing_app.state.best_available import QUANTITIES, BestAvailableState
from ticketing_app.state.seat_map import SeatMapState


def _options(values: rx.Var | list[str]) -> rx.Component:
    return rx.foreach(values, lambda v: rx.el.option(v, value=v))


def best_available_panel() -> rx.Component:
    s = BestAvailableState
    select_style = {"padding": "4px 8px", "border_radius": "6px"}
    return rx.card(
        rx.hstack(
            rx.text("Best available", weight="bold"),
            rx.el.select(_options(QUANTITIES), value=s.quantity, on_change=s.set_quantity,
                         id="best-quantity", aria_label="Number of seats", style=select_style),
            rx.text("seats together in"),
            rx.el.select(_options(s.tiers), value=s.tier, on_change=s.set_tier,
                         id="best-tier", aria_label="Tier", style=select_style),
            rx.button("Find seats", on_click=s.find, id="best-find",
                      disabled=~SeatMapState.live_open),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        rx.cond(
            s.message != "",
            rx.callout(s.message, color_scheme=rx.cond(s.ok, "grass", "amber"),
                       id="best-message", margin_top="0.75em"),
        ),
        on_mount=s.load,
        id="best-available",
    )
