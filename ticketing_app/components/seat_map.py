"""The seat map: one button per seat, coloured by its live code, grouped by section.

Every seat is a real button (Tab reaches it, Enter or Space holds or releases it, the arrow
keys move to the neighbouring seat: components/cart.py installs that listener) with an
accessible label such as "Row C seat 7, Standard, ₩52,000, aisle seat, available". A free
seat takes its tier's colour (the legend gives each tier's price); wheelchair spaces (♿),
companion seats, restricted views and aisle seats carry marks the legend explains. What a seat
is and costs shows in a line under the map on hover, focus or a first tap (a phone has no
hover). Sold and blocked seats stay focusable (aria-disabled) so a screen reader lists them,
and a click on one explains why it cannot be held. The map zooms and fits the screen's width
in its own scrolling area.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx
from reflex.vars import ArrayVar, ObjectVar, Var, VarData

from ticketing_app.components.i18n import _
from ticketing_app.i18n import N_
from ticketing_app.state.seat_map import SeatMapState

# Amber and neutral grey as in the original; a free seat takes its tier's colour (the
# legend says which); blue with a tick for mine; slate for not for sale.
COLORS = {"H": "#d97706", "S": "#9ca3af", "B": "#475569", "M": "#1d4ed8"}
STATUS_WORDS = {"available": N_("available"), "held": N_("held by someone else"),
                "mine": N_("held by you"), "sold": N_("sold"),
                "unavailable": N_("not for sale")}
FEATURE_LEGEND = {"wheelchair": N_("Wheelchair space"), "companion": N_("Companion seat"),
                  "restricted": N_("Restricted view"), "aisle": N_("Aisle seat")}
SEAT_PX = 34
# The marks of seat features (legend and map alike), and the phone-size rules of the map.
SEAT_CSS = (
    ".tk-seat:focus-visible{outline:3px solid #111827;outline-offset:2px}"
    ".tk-seat:hover{filter:brightness(1.1)}"
    ".tk-seat{position:relative}"
    ".tk-seat[data-cp='true']::after,.tk-mark-cp::after{content:'';position:absolute;top:3px;"
    "right:3px;width:7px;height:7px;border-radius:50%;background:#fff;"
    "box-shadow:0 0 0 1px rgba(0,0,0,.35)}"
    ".tk-seat[data-rv='true'],.tk-mark-rv{outline:2px dashed rgba(255,255,255,.9);"
    "outline-offset:-5px}"
    ".tk-seat[data-ai='true']::before,.tk-mark-ai::before{content:'';position:absolute;"
    "left:4px;right:4px;bottom:3px;height:3px;border-radius:2px;background:rgba(255,255,255,.75)}"
    ".tk-seat[data-status='mine'] .tk-num::after{content:' \\2713'}"
    ".tk-seat[data-status='held']{background-image:repeating-linear-gradient(45deg,"
    "transparent 0 5px,rgba(255,255,255,.28) 5px 7px)}"
    "#seat-map-zoom{overflow:auto;width:100%;max-width:100%;-webkit-overflow-scrolling:touch;"
    "overscroll-behavior-x:contain;touch-action:pan-x pan-y pinch-zoom}"
    "#seat-map-inner{width:max-content;transform-origin:0 0}"
)


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


# When the buyer clicked, on the server's clock as the page estimates it (components/cart.py
# keeps `window.tkSkew`); -1 before the page has heard the server's clock.
CLICKED_AT: Var[int] = Var(
    _js_expr="(typeof window !== 'undefined' && typeof window.tkSkew === 'number' ? "
             "Math.round(Date.now() + window.tkSkew) : -1)", _var_type=int)


def seat_button(seat: ObjectVar[dict[str, Any]]) -> rx.Component:
    code = code_at(seat["idx"].to(int))
    status = seat_status(code)
    words = rx.match(status, *((k, _(v)) for k, v in STATUS_WORDS.items()),
                     _(STATUS_WORDS["held"])).to(str)
    color = rx.match(status, ("mine", COLORS["M"]), ("available", seat["color"].to(str)),
                     ("sold", COLORS["S"]), ("unavailable", COLORS["B"]), COLORS["H"])
    info = seat["aria"].to(str)
    return rx.el.button(
        rx.el.span(rx.cond(seat["wc"].to(bool), "\u267f", seat["c"].to(str)),
                   class_name="tk-num", aria_hidden="true"),
        on_click=SeatMapState.toggle_seat(seat["id"].to(int), CLICKED_AT),  # type: ignore[operator]
        aria_label=info + ", " + words,
        aria_pressed=rx.cond(status == "mine", "true", "false"),
        aria_disabled=rx.cond((status == "sold") | (status == "unavailable"), "true", "false"),
        title=info + " (" + words + ")",
        data_status=status,
        data_seat=seat["id"].to(str),
        data_gr=seat["gr"].to(str),
        data_gc=seat["gc"].to(str),
        data_info=info,
        data_wc=seat["wc"].to(str),
        data_cp=seat["cp"].to(str),
        data_rv=seat["rv"].to(str),
        data_ai=seat["ai"].to(str),
        class_name="tk-seat",
        style={
            "grid_row": seat["gr"].to(str), "grid_column": seat["gc"].to(str),
            "transform": seat["tf"].to(str),
            "background_color": color, "color": "white", "border": "none",
            "border_radius": "6px", "width": f"{SEAT_PX}px", "height": f"{SEAT_PX}px",
            "font_size": "12px", "padding": "0", "font_weight": "600",
            "cursor": rx.cond((status == "sold") | (status == "unavailable"), "not-allowed",
                              "pointer"),
            "background_image": rx.cond(
                status == "unavailable",
                "repeating-linear-gradient(45deg, transparent 0 4px, "
                "rgba(255,255,255,.25) 4px 6px)",
                rx.cond(status == "held",
                        "repeating-linear-gradient(45deg, transparent 0 5px, "
                        "rgba(255,255,255,.28) 5px 7px)", "none")),
        },
    )


def row_label_cell(row: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.text(row["label"].to(str), size="1", color="gray", aria_hidden="true",
                   style={"grid_row": row["gr"].to(str), "grid_column": "1",
                          "transform": row["tf"].to(str)})


SeatFn = Callable[[ObjectVar[dict[str, Any]]], rx.Component]


def section_grid(section: ObjectVar[dict[str, Any]], seat_fn: SeatFn = seat_button,
                 many: Var[bool] | None = None) -> rx.Component:
    """One section's grid of seats; `seat_fn` draws a seat (the buyer's live button, or the
    venue editor's preview), `many`: the venue has several sections (their names show)."""
    seats = section["seats"].to(list[dict[str, Any]])
    return rx.vstack(
        rx.cond(SeatMapState.sections.length() > 1 if many is None else many,
                rx.heading(section["name"].to(str), size="3", as_="h3")),
        rx.box(
            rx.foreach(section["row_labels"].to(list[dict[str, Any]]), row_label_cell),
            rx.foreach(seats, seat_fn),
            style={"display": "grid", "gap": "6px", "align_items": "center",
                   "grid_template_columns": "20px repeat(" + section["cols"].to(str) +
                   f", {SEAT_PX}px)",
                   # Room for seats nudged past the last row or column (a curved row).
                   "padding_bottom": section["pb"].to(str),
                   "padding_right": section["pr"].to(str)},
            role="group",
            aria_label=_("{section} seats", section=section["name"].to(str)),
        ),
        spacing="2",
        data_section=section["name"].to(str),
    )


def band_row(band: ObjectVar[dict[str, Any]], seat_fn: SeatFn = seat_button,
             many: Var[bool] | None = None) -> rx.Component:
    """Sections sharing rows, side by side; bands stack (a balcony under the stalls), as the
    admin's preview draws the venue."""
    return rx.flex(
        rx.foreach(band["sections"].to(list[dict[str, Any]]),
                   lambda sec: section_grid(sec, seat_fn, many)),
        spacing="6", wrap="nowrap", class_name="tk-band",
    )


def layout_seat(seat: ObjectVar[dict[str, Any]], on_click: Any = None) -> rx.Component:
    """A seat of a layout shown as buyers will see it, without a sale behind it (the venue
    editor's preview): the buyer's seat in its section's colour, with the same marks, a
    dark frame when selected."""
    return rx.el.button(
        rx.el.span(rx.cond(seat["wc"].to(bool), "\u267f", seat["c"].to(str)),
                   class_name="tk-num", aria_hidden="true"),
        on_click=on_click,
        aria_label=seat["aria"].to(str),
        aria_pressed=rx.cond(seat["selected"].to(bool), "true", "false"),
        title=seat["aria"].to(str),
        data_seat=seat["id"].to(str),
        data_gr=seat["gr"].to(str),
        data_gc=seat["gc"].to(str),
        data_x=seat["x"].to(str),
        data_y=seat["y"].to(str),
        data_wc=seat["wc"].to(str),
        data_cp=seat["cp"].to(str),
        data_rv=seat["rv"].to(str),
        data_ai=seat["ai"].to(str),
        data_selected=seat["selected"].to(str),
        class_name="tk-seat",
        style={
            "grid_row": seat["gr"].to(str), "grid_column": seat["gc"].to(str),
            "transform": seat["tf"].to(str),
            "background_color": seat["color"].to(str), "color": "white",
            "border": "none", "border_radius": "6px", "width": f"{SEAT_PX}px",
            "height": f"{SEAT_PX}px", "font_size": "12px", "padding": "0",
            "font_weight": "600", "cursor": "pointer",
            "box_shadow": rx.cond(seat["selected"].to(bool),
                                  "0 0 0 3px #111827, 0 0 0 5px #fbbf24", "none"),
        },
    )


def layout_map(bands: Var[list[dict[str, Any]]], many: Var[bool], seat_fn: SeatFn,
               map_id: str) -> rx.Component:
    """A layout drawn by the buyer's seat map (the same sections, bands, rows, nudges and
    marks), with `seat_fn` for the seats."""
    return rx.box(
        rx.text(_("Stage"), align="center", color="gray", size="2",
                style={"border_bottom": "3px solid #d1d5db", "margin_bottom": "12px",
                       "letter_spacing": "0.3em", "text_transform": "uppercase"}),
        rx.box(rx.vstack(rx.foreach(bands, lambda b: band_row(b, seat_fn, many)),
                         spacing="6"),
               style={"overflow": "auto", "max_width": "100%", "padding": "8px 4px"}),
        rx.el.style(SEAT_CSS),
        id=map_id,
        style={"width": "100%", "max_width": "100%", "min_width": "0"},
    )


# Zoom and fit for the map (a phone shows a 10-seat row only zoomed out): pure browser work,
# no server round trip. The map fits the width by itself until the buyer zooms.
ZOOM_JS = """useEffect(() => {
  const box = LOADED ? document.getElementById('seat-map-zoom') : null;
  const inner = document.getElementById('seat-map-inner');
  if (!box || !inner) return;
  let z = 1, manual = false, natural = 0;
  const apply = (v) => { z = Math.max(0.35, Math.min(2, v)); inner.style.zoom = String(z);
    box.dataset.zoom = z.toFixed(2); };
  const measure = () => { const was = inner.style.zoom; inner.style.zoom = '1';
    const w = inner.scrollWidth; inner.style.zoom = was; return w; };
  const fit = () => { natural = measure();
    if (natural > 0) apply(Math.min(1, (box.clientWidth - 4) / natural)); };
  const onResize = () => { if (!manual) fit(); };
  const ro = new ResizeObserver(() => { if (!manual && measure() !== natural) fit(); });
  ro.observe(inner);
  window.addEventListener('resize', onResize);
  const onClick = (e) => {
    const b = e.target?.closest?.('[data-zoom-step]');
    if (!b) return;
    const step = b.dataset.zoomStep;
    if (step === 'fit') { manual = false; fit(); } else { manual = true;
      apply(z * (step === 'in' ? 1.25 : 0.8)); }
  };
  document.addEventListener('click', onClick);
  fit();
  return () => { ro.disconnect(); window.removeEventListener('resize', onResize);
    document.removeEventListener('click', onClick); };
}, [LOADED]);"""

# Touch: the first tap on a free seat shows what it is and costs (a phone has no hover);
# a second tap, or "Hold this seat", holds it. Mouse and keyboard hold at once. While the page
# knows it is offline, no click is sent (it would be queued and held much later): the
# connection notice says why (components/connection.py).
SEAT_TOUCH_JS = """useEffect(() => {
  let armed = null, touch = false;
  const show = (b) => { const info = document.getElementById('seat-info');
    const text = document.getElementById('seat-info-text');
    const hold = document.getElementById('seat-info-hold');
    if (!info || !text) return; text.textContent = b.dataset.info || '';
    info.hidden = false; if (hold) hold.hidden = !(touch && b.dataset.status === 'available');
    if (hold) hold.dataset.for = b.dataset.seat; };
  const offline = () => (typeof navigator !== 'undefined' && navigator.onLine === false) ||
    document.getElementById('connection-state')?.dataset.offline === 'true';
  const onDown = (e) => { touch = e.pointerType === 'touch'; };
  const onOver = (e) => { const b = e.target?.closest?.('.tk-seat'); if (b) show(b); };
  const onClick = (e) => {
    const h = e.target?.closest?.('#seat-info-hold');
    if (h) { const b = document.querySelector(`.tk-seat[data-seat="${h.dataset.for}"]`);
      if (b) { armed = b.dataset.seat; touch = false; b.click(); } return; }
    const b = e.target?.closest?.('.tk-seat');
    if (!b) return;
    if (offline()) { e.stopImmediatePropagation(); e.preventDefault();
      document.getElementById('connection-state')?.setAttribute('data-flash', String(Date.now()));
      return; }
    if (touch && b.dataset.status === 'available' && armed !== b.dataset.seat) {
      armed = b.dataset.seat; show(b); e.stopImmediatePropagation(); e.preventDefault(); return; }
    armed = null;
  };
  document.addEventListener('pointerdown', onDown, true);
  document.addEventListener('pointerover', onOver, true);
  document.addEventListener('focusin', onOver, true);
  document.addEventListener('click', onClick, true);
  return () => { document.removeEventListener('pointerdown', onDown, true);
    document.removeEventListener('pointerover', onOver, true);
    document.removeEventListener('focusin', onOver, true);
    document.removeEventListener('click', onClick, true); };
}, []);"""


def _with_hook(hook: str, dep: Var[Any] | None = None) -> Var[str]:
    """A hook for the component that renders this prop; `LOADED` in it stands for `dep`."""
    extra = dep._get_all_var_data() if dep is not None else None
    if dep is not None:
        hook = hook.replace("LOADED", f"({dep!s})")
    return Var(_js_expr="''", _var_type=str, _var_data=VarData.merge(
        VarData(imports={"react": ["useEffect"]}, hooks={hook: extra}), extra))


def zoom_controls() -> rx.Component:
    btn = {"min_width": "44px", "min_height": "44px", "font_size": "18px"}
    return rx.hstack(
        rx.el.button("\u2212", data_zoom_step="out", aria_label=_("Zoom out"), style=btn,
                     class_name="tk-zoom"),
        rx.el.button(_("Fit"), data_zoom_step="fit", aria_label=_("Fit the map to the screen"),
                     style={**btn, "font_size": "14px", "padding": "0 10px"},
                     class_name="tk-zoom"),
        rx.el.button("+", data_zoom_step="in", aria_label=_("Zoom in"), style=btn,
                     class_name="tk-zoom"),
        spacing="1", id="zoom-controls",
        data_hooks=_with_hook(ZOOM_JS, SeatMapState.loaded),
    )


def seat_info() -> rx.Component:
    """What the seat under the finger, pointer or focus is and costs, before it is held."""
    return rx.box(
        rx.el.span(id="seat-info-text"),
        rx.el.button(_("Hold this seat"), id="seat-info-hold", hidden=True,
                     style={"min_height": "44px", "padding": "0 14px", "margin_left": "10px",
                            "border_radius": "8px", "background": "#111827",
                            "color": "white", "border": "none"}),
        id="seat-info", role="status", aria_live="polite", hidden=True,
        data_hooks=_with_hook(SEAT_TOUCH_JS),
        style={"font_size": "14px", "padding": "6px 0", "min_height": "44px"},
    )


def seat_grid() -> rx.Component:
    return rx.box(
        rx.text(_("Stage"), align="center", color="gray", size="2",
                style={"border_bottom": "3px solid #d1d5db", "margin_bottom": "12px",
                       "letter_spacing": "0.3em", "text_transform": "uppercase"}),
        rx.cond(
            SeatMapState.loaded,
            rx.box(
                rx.box(
                    rx.vstack(rx.foreach(SeatMapState.bands, lambda b: band_row(b)), spacing="6"),
                    id="seat-map-inner",
                ),
                id="seat-map-zoom",
            ),
            rx.hstack(rx.spinner(size="3"), rx.text(_("Loading the seat map…")),
                      id="seat-map-loading", role="status", align="center", padding="24px"),
        ),
        rx.el.style(SEAT_CSS),
        id="seat-map",
        data_version=shown_version().to(str),
        # The whole width: the map fits into it (a box sized by its content would shrink
        # with every fit).
        style={"width": "100%", "max_width": "100%", "padding": "4px", "min_width": "0",
               "box_sizing": "border-box"},
    )


def legend_item(text: Any, color: str | Var[str], mark: str = "", pattern: bool = False,
                symbol: str = "") -> rx.Component:
    return rx.hstack(
        rx.box(symbol, class_name=mark, aria_hidden="true",
               style={"width": "18px", "height": "18px", "background": color,
                      "border_radius": "4px", "position": "relative", "color": "white",
                      "font_size": "12px", "line_height": "18px", "text_align": "center",
                      "flex_shrink": "0",
                      "background_image": "repeating-linear-gradient(45deg, transparent 0 "
                      "3px, rgba(255,255,255,.35) 3px 5px)" if pattern else "none"}),
        rx.text(text, size="2"),
        align="center", spacing="1",
    )


def tier_item(tier: ObjectVar[dict[str, str]]) -> rx.Component:
    return legend_item(_("{tier}: {price}", tier=tier["name"].to(str),
                         price=tier["price"].to(str)),
                       tier["color"].to(str))


def feature_item(feature: Var[str]) -> rx.Component:
    return rx.match(
        feature,
        ("wheelchair", legend_item(_(FEATURE_LEGEND["wheelchair"]), "#64748b",
                                   symbol="\u267f")),
        ("companion", legend_item(_(FEATURE_LEGEND["companion"]), "#64748b", "tk-mark-cp")),
        ("restricted", legend_item(_(FEATURE_LEGEND["restricted"]), "#64748b",
                                   "tk-mark-rv")),
        ("aisle", legend_item(_(FEATURE_LEGEND["aisle"]), "#64748b", "tk-mark-ai")),
        rx.fragment(),
    )


def wheelchair_choice() -> rx.Component:
    """"I need a wheelchair space": shown when the event has them; while they are kept for
    buyers who need one, only such a buyer may hold one (checked on the server)."""
    return rx.cond(
        SeatMapState.features.contains("wheelchair"),
        rx.el.label(
            rx.el.input(type="checkbox", checked=SeatMapState.need_wheelchair,
                        on_change=SeatMapState.set_need_wheelchair, id="need-wheelchair",
                        style={"width": "22px", "height": "22px"}),
            rx.text(_("I need a wheelchair space"), size="2"),
            rx.cond(~SeatMapState.wheelchair_open,
                    rx.text(_("(wheelchair spaces are kept for buyers who need one)"),
                            size="1", color="gray")),
            style={"display": "flex", "align_items": "center", "gap": "8px",
                   "min_height": "44px", "flex_wrap": "wrap"},
        ),
    )


def legend() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.foreach(SeatMapState.tiers, tier_item),
            legend_item(_("Held by someone else"), COLORS["H"], pattern=True),
            legend_item(_("Held by you"), COLORS["M"], symbol="\u2713"),
            legend_item(_("Sold"), COLORS["S"]),
            rx.cond(cells().contains("B") | ~SeatMapState.live_open,
                    legend_item(_("Not for sale"), COLORS["B"], pattern=True)),
            spacing="4", wrap="wrap", id="legend",
        ),
        rx.flex(rx.foreach(SeatMapState.features, feature_item),
                spacing="4", wrap="wrap", id="seat-features"),
        wheelchair_choice(),
        spacing="1",
        width="100%",
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
        rx.el.button("resync seats", id=RESYNC_ID, on_click=SeatMapState.resync,  # i18n: ignore
                     tab_index=-1, aria_hidden="true", style={"display": "none"}),
        rx.el.span(id="seats-gap", data_gap=rx.cond(watch, "true", "false"), hidden=True),
    )
