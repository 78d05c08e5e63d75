"""The seat map: one button per seat, coloured by its live code, grouped by section.

Every seat is a real button (Tab reaches it, Enter or Space holds or releases it, the arrow
keys move to the neighbouring seat: components/cart.py installs that listener) with an
accessible label such as "Row C seat 7, 52,000 KRW, available"; the tier and price also show on
hover. Sold and blocked seats stay focusable (aria-disabled) so a screen reader lists them, and a
click on one explains why it cannot be held.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ArrayVar, ObjectVar, Var, VarData

from ticketing_app.state.seat_map import SeatMapState

# Emerald, amber and neutral grey as in the original; blue for mine; slate for not for sale.
COLORS = {"A": "#059669", "H": "#d97706", "S": "#9ca3af", "B": "#475569", "M": "#2563eb"}
STATUS_WORDS = {"available": "available", "held": "held by someone else", "mine": "held by you",
                "sold": "sold", "unavailable": "not for sale"}


def _live(expr: str) -> Var[Any]:
    """A JS expression over the seat map state's snapshot and broadcast vars: `SV`, `SS` the
    snapshot's version and map; `LE`, `LB`, `LV`, `LO` the last broadcast's event, base, version
    and touched seats; `LSV`, `LS` the last map a broadcast carried whole; `EV` the page's
    event. (How they fit together: state/seat_map.py, live/hub.py.)"""
    s = SeatMapState
    names: dict[str, Var[Any]] = {
        "EV": s.event_id, "SV": s.snap_v, "SS": s.snap_s, "LE": s.live_e, "LB": s.live_b,
        "LV": s.live_v, "LO": s.live_o, "LSV": s.live_sv, "LS": s.live_s}
    args = ", ".join(names)
    values = ", ".join(f"({v!s})" for v in names.values())
    return Var(_js_expr=f"(({args}) => {expr})({values})",
               _var_data=VarData.merge(*(v._get_all_var_data() for v in names.values())))


# The broadcast is newer than the snapshot and the page has a map it applies to: the snapshot
# (from the base on) or the last whole map a broadcast carried.
_NEWER = "LE === EV && LV > SV"
_PLACED = "(LB <= SV || (LSV >= LB && LSV <= LV))"
_BASE = "(LB <= SV ? SS : LS)"


def code_at(index: Var[Any]) -> Var[str]:
    """The code the page shows for the seat at `index` (constant time: a map of thousands
    of seats is not rebuilt per seat)."""
    return _live(f"(({_NEWER} && {_PLACED}) ? ((LO ?? {{}})[I] ?? {_BASE}[I]) : SS[I])"
                 .replace("[I]", f"[{index!s}]")).to(str)._replace(
        merge_var_data=index._get_all_var_data())


def cells() -> ArrayVar[list[str]]:
    """Every code the page shows, in layout order (for counts, not per seat)."""
    return _live(f"(({_NEWER} && {_PLACED}) ? {_BASE}.map((c, i) => (LO ?? {{}})[i] ?? c) "
                 ": SS)").to(list[str])


def shown_version() -> Var[int]:
    return _live(f"(({_NEWER} && {_PLACED}) ? LV : SV)").to(int)


def _gap() -> Var[bool]:
    """A broadcast the page cannot place: it asks for the map again (`resync`)."""
    return _live(f"({_NEWER} && !{_PLACED})").to(bool)


def seat_status(code: Any) -> Any:
    """A closed or cancelled event (`live_open` false) has no seat to hold: all but the sold
    ones show as not for sale, from the first render."""
    return rx.cond(
        SeatMapState.live_open,
        rx.cond(
            code == SeatMapState.my_tag, "mine",
            rx.match(code.to(str)[0], ("A", "available"), ("S", "sold"), ("B", "unavailable"),
                     "held"),
        ),
        rx.cond(code.to(str)[0] == "S", "sold", "unavailable"),
    )


def seat_button(seat: ObjectVar[dict[str, Any]]) -> rx.Component:
    code = code_at(seat["idx"].to(int))
    status = seat_status(code)
    words = rx.match(status, *STATUS_WORDS.items(), "held by someone else").to(str)
    color = rx.match(status, ("mine", COLORS["M"]), ("available", COLORS["A"]),
                     ("sold", COLORS["S"]), ("unavailable", COLORS["B"]), COLORS["H"])
    return rx.el.button(
        seat["c"].to(str),
        on_click=SeatMapState.toggle_seat(seat["id"].to(int)),  # type: ignore[operator]
        aria_label=seat["aria"].to(str) + ", " + words,
        aria_pressed=rx.cond(status == "mine", "true", "false"),
        aria_disabled=rx.cond((status == "sold") | (status == "unavailable"), "true", "false"),
        title=seat["label"].to(str) + ": " + seat["tier"].to(str) + ", " +
        seat["price"].to(str) + " (" + words + ")",
        data_status=status,
        data_seat=seat["id"].to(str),
        data_gr=seat["gr"].to(str),
        data_gc=seat["gc"].to(str),
        class_name="tk-seat",
        style={
            "grid_row": seat["gr"].to(str), "grid_column": seat["gc"].to(str),
            "background": color, "color": "white", "border": "none", "border_radius": "6px",
            "width": "34px", "height": "34px", "font_size": "12px",
            "cursor": rx.cond((status == "sold") | (status == "unavailable"), "not-allowed",
                              "pointer"),
            "background_image": rx.cond(
                status == "unavailable",
                "repeating-linear-gradient(45deg, transparent 0 4px, "
                "rgba(255,255,255,.25) 4px 6px)",
                "none"),
        },
    )


def row_label_cell(row: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.text(row["label"].to(str), size="1", color="gray", aria_hidden="true",
                   style={"grid_row": row["gr"].to(str), "grid_column": "1"})


def section_grid(section: ObjectVar[dict[str, Any]]) -> rx.Component:
    seats = section["seats"].to(list[dict[str, Any]])
    return rx.vstack(
        rx.cond(SeatMapState.sections.length() > 1,
                rx.heading(section["name"].to(str), size="3", as_="h3")),
        rx.box(
            rx.foreach(section["row_labels"].to(list[dict[str, Any]]), row_label_cell),
            rx.foreach(seats, seat_button),
            style={"display": "grid", "gap": "6px", "align_items": "center",
                   "grid_template_columns": "20px repeat(" + section["cols"].to(str) +
                   ", 34px)"},
            role="group",
            aria_label=section["name"].to(str) + " seats",
        ),
        spacing="2",
        data_section=section["name"].to(str),
    )


def seat_grid() -> rx.Component:
    return rx.box(
        rx.text("Stage", align="center", color="gray", size="2",
                style={"border_bottom": "3px solid #d1d5db", "margin_bottom": "12px",
                       "letter_spacing": "0.3em", "text_transform": "uppercase"}),
        rx.flex(rx.foreach(SeatMapState.sections, section_grid), wrap="wrap", spacing="6"),
        rx.el.style(".tk-seat:focus-visible{outline:3px solid #111827;outline-offset:2px}"
                    ".tk-seat:hover{filter:brightness(1.1)}"),
        id="seat-map",
        data_version=shown_version().to(str),
        style={"overflow_x": "auto", "max_width": "100%", "padding": "4px"},
    )


def legend_item(text: str, color: str, pattern: bool = False) -> rx.Component:
    return rx.hstack(
        rx.box(width="14px", height="14px", background=color, border_radius="3px",
               background_image="repeating-linear-gradient(45deg, transparent 0 3px, "
                                "rgba(255,255,255,.35) 3px 5px)" if pattern else "none"),
        rx.text(text, size="2"),
        align="center", spacing="1",
    )


def tier_item(tier: ObjectVar[dict[str, str]]) -> rx.Component:
    return rx.text(tier["name"].to(str) + ": " + tier["price"].to(str), size="2",
                   color="gray")


def legend() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            legend_item("Available", COLORS["A"]),
            legend_item("Held by someone else", COLORS["H"]),
            legend_item("Held by you", COLORS["M"]),
            legend_item("Sold", COLORS["S"]),
            rx.cond(cells().contains("B") | ~SeatMapState.live_open,
                    legend_item("Not for sale", COLORS["B"], True)),
            spacing="4", wrap="wrap", id="legend",
        ),
        rx.hstack(rx.foreach(SeatMapState.tiers, tier_item), spacing="4", wrap="wrap",
                  id="tiers"),
        spacing="1",
    )


RESYNC_ID = "seats-resync"


def live_watcher() -> rx.Component:
    """Hidden: when a broadcast cannot be placed on the map the page has, a click on the
    resync button (once per such broadcast) asks the server for the map again."""
    gap, version = _gap(), SeatMapState.live_v
    hooks: dict[str, VarData | None] = {
        "useEffect(() => { if (!(" + f"{gap!s}" + ")) return; const t = setTimeout(() => "
        f"document.getElementById('{RESYNC_ID}')?.click(), 50); "
        "return () => clearTimeout(t); }, [" + f"{gap!s}, {version!s}]);":
            VarData.merge(gap._get_all_var_data(), version._get_all_var_data()),
    }
    watch: Var[bool] = Var(_js_expr=f"({gap!s})", _var_type=bool,
                _var_data=VarData.merge(gap._get_all_var_data(),
                                        VarData(imports={"react": ["useEffect"]},
                                                hooks=hooks)))
    return rx.fragment(
        rx.el.button("resync seats", id=RESYNC_ID, on_click=SeatMapState.resync,
                     tab_index=-1, aria_hidden="true", style={"display": "none"}),
        rx.el.span(id="seats-gap", data_gap=rx.cond(watch, "true", "false"), hidden=True),
    )
