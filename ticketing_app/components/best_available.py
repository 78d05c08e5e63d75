"""A "best available" control the seat page includes: N seats together, in a tier; and, when
the event has wheelchair spaces, "a wheelchair space and N companion seats"."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.i18n import _
from ticketing_app.state.best_available import (
    ANY_TIER,
    COMPANIONS,
    QUANTITIES,
    BestAvailableState,
)
from ticketing_app.state.seat_map import SeatMapState

SELECT_STYLE = {"padding": "4px 8px", "border_radius": "6px", "min_height": "44px"}
TOUCH = {"min_height": "44px"}
LABEL_STYLE = {"display": "inline-flex", "align_items": "center", "gap": "6px",
               "font_size": "14px"}


def _options(values: rx.Var | list[str]) -> rx.Component:
    return rx.foreach(values, lambda v: rx.el.option(v, value=v))


def accessible_row() -> rx.Component:
    s = BestAvailableState
    return rx.cond(
        s.has_wheelchair,
        rx.flex(
            rx.text("\u267f", aria_hidden="true", size="4"),
            rx.text(_("Wheelchair space"), weight="bold"),
            rx.el.label(
                _("Companion seats beside it:"), " ",
                rx.el.select(_options(COMPANIONS), value=s.companions,
                             on_change=s.set_companions, id="best-companions",
                             style=SELECT_STYLE),
                style=LABEL_STYLE),
            rx.button(_("Find a wheelchair space"), on_click=s.find_accessible,
                      id="best-wheelchair", style=TOUCH),
            align="center", gap="12px", wrap="wrap", margin_top="0.75em",
        ),
    )


def best_available_panel() -> rx.Component:
    s = BestAvailableState
    return rx.card(
        rx.flex(
            rx.text(_("Best available"), weight="bold"),
            rx.el.label(
                _("Seats side by side:"), " ",
                rx.el.select(_options(QUANTITIES), value=s.quantity, on_change=s.set_quantity,
                             id="best-quantity", style=SELECT_STYLE),
                style=LABEL_STYLE),
            rx.el.label(
                _("Tier:"), " ",
                rx.el.select(
                    rx.el.option(_("Any tier"), value=ANY_TIER),
                    rx.foreach(s.tiers, lambda v: rx.el.option(v, value=v)),
                    value=s.tier, on_change=s.set_tier, id="best-tier", style=SELECT_STYLE),
                style=LABEL_STYLE),
            rx.button(_("Find seats"), on_click=s.find, id="best-find", style=TOUCH,
                      disabled=~SeatMapState.live_open),
            align="center",
            gap="12px",
            wrap="wrap",
        ),
        accessible_row(),
        rx.cond(
            s.message != "",
            rx.callout(s.message, color_scheme=rx.cond(s.ok, "grass", "amber"),
                       id="best-message", margin_top="0.75em"),
        ),
        on_mount=s.load,
        id="best-available",
        width="100%",
    )
