"""The seat grid: one button per seat, coloured by its live code."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ArrayVar, ObjectVar

from ticketing_app.state.seat_map import SeatMapState

COLORS = {"A": "#10b981", "H": "#f59e0b", "S": "#9ca3af", "B": "#6b7280", "M": "#2563eb"}


def cells() -> ArrayVar[list[str]]:
    s = SeatMapState
    use_live = (s.live_e == s.event_id) & (s.live_v > s.snap_v)
    return rx.cond(use_live, s.live_s, s.snap_s).to(list[str])


def seat_button(seat: ObjectVar[dict[str, Any]]) -> rx.Component:
    code = cells()[seat["idx"].to(int)].to(str)
    status = rx.cond(
        code == SeatMapState.my_tag, "mine",
        rx.match(code[0], ("A", "available"), ("S", "sold"), ("B", "unavailable"), "held"),
    )
    color = rx.match(status, ("mine", COLORS["M"]), ("available", COLORS["A"]),
                     ("sold", COLORS["S"]), ("unavailable", COLORS["B"]), COLORS["H"])
    return rx.el.button(
        seat["c"].to(str),
        on_click=SeatMapState.toggle_seat(seat["id"].to(int)),  # type: ignore[operator]
        aria_label=seat["aria"].to(str) + ", " + status,
        title=seat["aria"].to(str) + " (" + seat["tier"].to(str) + ")",
        data_status=status,
        data_seat=seat["id"].to(str),
        disabled=(status == "sold") | (status == "unavailable"),
        style={
            "grid_row": seat["r"].to(str), "grid_column": seat["c"].to(str),
            "background": color, "color": "white", "border": "none", "border_radius": "6px",
            "width": "34px", "height": "34px", "font_size": "12px", "cursor": "pointer",
        },
    )


def seat_grid() -> rx.Component:
    return rx.box(
        rx.foreach(SeatMapState.seats, seat_button),
        style={"display": "grid", "gap": "6px",
               "grid_template_columns": "repeat(" + SeatMapState.cols.to(str) + ", 34px)"},
        id="seat-map",
        data_version=rx.cond((SeatMapState.live_e == SeatMapState.event_id) &
                             (SeatMapState.live_v > SeatMapState.snap_v),
                             SeatMapState.live_v, SeatMapState.snap_v).to(str),
    )
