"""The seat map page: thin over the services; live colours come from the LiveHub.

Two sets of vars carry the seat codes: `snap_*` are computed from this process's hub on every
ordinary update (so a reload, a reconnect or any event handler sends the whole map as it is),
and `live_*` are written only by the hub's room broadcasts, which carry the seats changed since
a base version (`live/hub.py`). The page (components/seat_map.py) shows the newer of the two:
the broadcast's seats over the map it has from the base on (the snapshot, or the last map a
broadcast carried whole); when it has no map that recent it calls `resync`, which sends the
snapshot again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from ticketing_app.bootstrap import Runtime, get_runtime
from ticketing_app.db.models import Event
from ticketing_app.domain import errors
from ticketing_app.domain.access import (
    AISLE,
    COMPANION,
    RESTRICTED,
    WHEELCHAIR,
    wheelchair_open_to_all,
)
from ticketing_app.domain.seat_layout import SeatInfo
from ticketing_app.domain.seats import row_label
from ticketing_app.i18n import N_, _, format_event_time, format_money, seat_label
from ticketing_app.live import rooms
from ticketing_app.routes import queue_url
from ticketing_app.settings import get_settings
from ticketing_app.state.base import BuyerState
from ticketing_app.state.cart import CartState, now_ms
from ticketing_app.state.messages import hold_error_text


def stale_click(clicked_at_ms: int, now: int, max_age_s: float) -> bool:
    """A click made longer ago than `max_age_s` (a queued click sent on reconnect)."""
    return clicked_at_ms >= 0 and max_age_s > 0 and now - clicked_at_ms > max_age_s * 1000


def _event_id_from_path(path: str) -> int:
    for part in reversed([p for p in path.split("?")[0].split("/") if p]):
        if part.isdigit():
            return int(part)
    return 0


class SeatMapState(BuyerState):
    event_id: rx.Field[int] = rx.field(0)
    title: rx.Field[str] = rx.field("")
    subtitle: rx.Field[str] = rx.field("")
    currency: rx.Field[str] = rx.field("KRW")
    rows: rx.Field[int] = rx.field(0)
    cols: rx.Field[int] = rx.field(0)
    # Larger venues: one grid per section, each with its own rows and columns; `bands` stack
    # (a balcony under the stalls), a band's sections side by side.
    sections: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)
    bands: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)
    tiers: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)
    # Seat features present on this event's map (the legend's marks).
    features: rx.Field[list[str]] = rx.field(default_factory=list)
    # The buyer says they need a wheelchair space (may hold one before they open to all).
    need_wheelchair: rx.Field[bool] = rx.field(False)
    wheelchair_open: rx.Field[bool] = rx.field(True)
    # Set once the map has its layout (the page shows a loading state until then).
    loaded: rx.Field[bool] = rx.field(False)
    my_tag: rx.Field[str] = rx.field("")
    not_found: rx.Field[bool] = rx.field(False)
    _labels: dict[int, str] = {}

    # Written only by the LiveHub's room broadcasts: the event, the base version, the version,
    # the positions touched since the base with their codes; and the last map a broadcast
    # carried whole, with its version.
    live_e: rx.Field[int] = rx.field(0)
    live_b: rx.Field[int] = rx.field(-1)
    live_v: rx.Field[int] = rx.field(-1)
    live_o: rx.Field[dict[str, str]] = rx.field(default_factory=dict)
    live_sv: rx.Field[int] = rx.field(-1)
    live_s: rx.Field[list[str]] = rx.field(default_factory=list)
    # The event is on sale: from the database at load (so a closed or cancelled event shows
    # no seat as available from the first render), then from every broadcast (a cancellation
    # while the page is open).
    live_open: rx.Field[bool] = rx.field(True)

    @rx.var(cache=False)
    def snap_v(self) -> int:
        hub = rooms.hub()
        view = hub.peek(self.event_id) if hub else None
        return view.version if view else -1

    @rx.var(cache=False)
    def snap_s(self) -> list[str]:
        hub = rooms.hub()
        view = hub.peek(self.event_id) if hub else None
        return list(view.codes) if view else []

    @rx.event
    async def load(self) -> Any:
        rt = await get_runtime()
        event_id = _event_id_from_path(self.router.url.path)
        try:
            ev = await rt.catalog.public_event(event_id)  # a draft is "not found"
            layout = await rt.catalog.layout(event_id)
        except errors.EventNotFound:
            self.not_found = True
            return None
        self.not_found = False
        # While the event's waiting room is on, only admitted buyers see the seats.
        if not (await rt.waiting.entry(self.buyer(), event_id)).may_enter:
            return rx.redirect(queue_url(event_id), replace=True)
        self.event_id = event_id
        self.title = ev.title
        self.subtitle = await event_when_where(rt, ev)
        self.live_open = ev.status == "ON_SALE"
        self.currency = ev.currency
        self.rows, self.cols = layout.rows, layout.cols
        colours = tier_colours(layout.seats)
        seats = [seat_entry(i, s, ev.currency, colours[s.tier_name or ""])
                 for i, s in enumerate(layout.seats)]
        self._labels = {int(x["id"]): str(x["label"]) for x in seats}
        self.sections = sections_of(seats)
        self.bands = bands_of(self.sections)
        self.tiers = tiers_of(layout.seats, ev.currency, colours)
        self.features = features_of(layout.seats)
        self.wheelchair_open = wheelchair_open_to_all(
            ev.wheelchair_policy, ev.wheelchair_release_hours, ev.starts_at, datetime.now(UTC))
        self.loaded = True
        self.my_tag = "H" + rt.catalog.tag_for(event_id, self.buyer())
        hub = rooms.hub()
        if hub is not None:
            await hub.watch(event_id)
        await rooms.join(self.router.session.session_id, event_id)
        return None

    @rx.event
    async def resync(self) -> None:
        """The page saw a broadcast it cannot place (it missed the one that carried the map
        whole): this update sends the map as the hub has it now (`snap_*`)."""
        self.event_id = self.event_id  # an update of this state, so its snapshot goes out

    @rx.event
    def set_need_wheelchair(self, value: bool) -> None:
        self.need_wheelchair = bool(value)

    @rx.event
    async def toggle_seat(self, seat_id: int, clicked_at: int = -1) -> Any:
        """Hold a free seat, release one of mine; the cart follows at once. `clicked_at`: when
        the buyer clicked, on the server's clock as the page estimates it (-1: unknown). The
        page does not send clicks while it knows it is offline (components/connection.py);
        a click the browser queued during a drop it had not noticed yet arrives when the
        connection is back, long after: older than CLICK_MAX_AGE_S, it is dropped, never
        held later than the buyer could expect."""
        if stale_click(clicked_at, now_ms(), get_settings().click_max_age_s):
            return rx.toast.warning(
                _("The connection was lost when you chose that seat, so it was not held. "
                  "Check the map and choose again."), id="stale-click")
        rt = await get_runtime()
        label = self._labels.get(seat_id, "")
        cart = await self.get_state(CartState)
        try:
            buyer = self.claimant()
            mine = {h.seat_id for h in await rt.reservations.my_holds(buyer, self.event_id)}
            if seat_id in mine:
                await rt.reservations.release(buyer, self.event_id, [seat_id])
            else:
                entry = await rt.waiting.entry(buyer, self.event_id)
                await rt.reservations.hold(buyer, self.event_id, [seat_id], None,
                                           admission=entry.token,
                                           client=self.client_address(), web=True,
                                           wheelchair=self.need_wheelchair)
        except errors.DomainError as exc:
            await cart.sync(rt, self.event_id)
            if exc.code == "UNAUTHENTICATED" and not isinstance(exc, errors.NoBuyerCookie):
                return [rx.toast.error(hold_error_text(exc, label)),
                        rx.redirect(queue_url(self.event_id))]
            return rx.toast.error(hold_error_text(exc, label), id=f"seat-error-{exc.code}")
        await cart.sync(rt, self.event_id)
        return None


async def event_when_where(rt: Runtime, ev: Event) -> str:
    """"Mon, Mar 1, 2027, 7:30 PM (South Korea Time) · Seoul Arts Center": the start in the
    venue's zone, in the reader's language, and the venue."""
    when = format_event_time(ev.starts_at, await rt.catalog.time_zone(ev))
    venue = await rt.catalog.venue_name(ev)
    return _("{when} · {venue}", when=when, venue=venue) if venue else when


# A seat's pitch on the map: components/seat_map.py draws seats SEAT_PX (34) wide with a
# gap of 6 px; a seat's place between grid cells is nudged in these pixels.
SEAT_PITCH_PX = 40
# Tiers drawn in these when the organiser gave two tiers the same colour (they are told apart
# on the map); none is the amber, blue or grey of a seat's status.
TIER_PALETTE = ("#059669", "#7c3aed", "#0891b2", "#be185d", "#4d7c0f", "#9333ea", "#0f766e")
# The features as the seat's spoken label says them, in this order.
FEATURE_WORDS = {WHEELCHAIR: N_("wheelchair space"), COMPANION: N_("companion seat"),
                 RESTRICTED: N_("restricted view"), AISLE: N_("aisle seat")}


def tier_colours(seats: tuple[SeatInfo, ...]) -> dict[str, str]:
    """Each tier's colour on the map: the organiser's, unless two tiers share one (then a
    palette colour each, in layout order)."""
    names = list(dict.fromkeys(s.tier_name or "" for s in seats))
    given = {s.tier_name or "": s.tier_color for s in seats}
    if len(set(given.values())) == len(names):
        return given
    return {n: TIER_PALETTE[i % len(TIER_PALETTE)] for i, n in enumerate(names)}


def seat_entry(idx: int, s: SeatInfo, currency: str, colour: str) -> dict[str, Any]:
    """One seat as the page renders it, in the reader's language; `idx` points into the live
    codes. `aria`: what a screen reader says before the seat's status."""
    price = format_money(s.price, currency)
    label = seat_label(s.section, s.row_name or s.r, s.c)
    tier = s.tier_name or _("Standard")
    extras = [_(FEATURE_WORDS[f]) for f in FEATURE_WORDS if f in s.features]
    return {"id": s.id, "idx": idx, "r": s.r, "c": s.c, "label": label,
            "x": float(s.c if s.x is None else s.x), "y": float(s.r if s.y is None else s.y),
            "row": s.row_name or row_label(s.r), "section": s.section, "price": price,
            "tier": tier, "color": colour, "wc": WHEELCHAIR in s.features,
            "cp": COMPANION in s.features, "rv": RESTRICTED in s.features,
            "ai": AISLE in s.features, "extras": ", ".join(extras),
            "aria": ", ".join([label, tier, price, *extras])}


def _cell(v: float) -> int:
    """The grid cell a seat sits in; what is left over nudges it right or down, never up or
    left, so no seat is drawn above or before its section's grid (and cut off)."""
    return math.floor(v + 1e-6)


def _nudge(dx: float, dy: float) -> str:
    """What is left of a seat's place once it sits in its grid cell, as a CSS transform."""
    if abs(dx) < 1e-6 and abs(dy) < 1e-6:
        return "none"
    return f"translate({dx * SEAT_PITCH_PX:.1f}px, {dy * SEAT_PITCH_PX:.1f}px)"


def _room(nudges: Iterable[float]) -> str:
    most = max(nudges, default=0.0)
    return f"{math.ceil(most * SEAT_PITCH_PX)}px" if most > 1e-6 else "0"


def sections_of(seats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Seats grouped by section (layout order), each section its own grid: `gr`/`gc` place a
    seat in it (column 1 holds the row letters) and `tf` nudges it the rest of the way to
    where the venue draws it (`x`, `y` in seat widths: a row shifted by half a seat, a curved
    row). Columns keep the venue's own offsets, so a section is drawn where the admin preview
    draws it: sections on the same rows side by side, a section below the others (a balcony)
    under them (`band`: sections of one band share rows)."""
    out: dict[str, dict[str, Any]] = {}
    for seat in seats:
        out.setdefault(seat["section"], {"name": seat["section"], "seats": []})["seats"] \
            .append(seat)
    for sec in out.values():
        for x in sec["seats"]:
            px, py = float(x.get("x", x["c"])), float(x.get("y", x["r"]))
            x["_cx"], x["_cy"] = _cell(px), _cell(py)
            x["tf"] = _nudge(px - x["_cx"], py - x["_cy"])
        r0 = min(int(x["_cy"]) for x in sec["seats"]) - 1
        c0 = min(int(x["_cx"]) for x in sec["seats"]) - 1
        for x in sec["seats"]:
            x["gr"], x["gc"] = int(x["_cy"]) - r0, int(x["_cx"]) - c0 + 1
        sec["cols"] = max(int(x["_cx"]) for x in sec["seats"]) - c0
        # A row's letters beside its leftmost seat, on that seat's line.
        first: dict[int, dict[str, Any]] = {}
        for x in sec["seats"]:
            have = first.get(int(x["r"]))
            if have is None or float(x.get("x", x["c"])) < float(have.get("x", have["c"])):
                first[int(x["r"])] = x
        sec["row_labels"] = [
            {"gr": x["gr"], "label": str(x["row"]),
             "tf": _nudge(0, float(x.get("y", x["r"])) - int(x["_cy"]))}
            for _r, x in sorted(first.items())]
        sec["top"], sec["bottom"] = r0 + 1, max(int(x["_cy"]) for x in sec["seats"])
        sec["left"] = c0 + 1
        # Room below and to the right for seats nudged past the last row or column.
        right = max(int(x["_cx"]) for x in sec["seats"])
        sec["pb"] = _room(float(x.get("y", x["r"])) - int(x["_cy"]) for x in sec["seats"]
                          if int(x["_cy"]) == sec["bottom"])
        sec["pr"] = _room(float(x.get("x", x["c"])) - int(x["_cx"]) for x in sec["seats"]
                          if int(x["_cx"]) == right)
        for x in sec["seats"]:
            del x["_cx"], x["_cy"]
    # Nearest the stage first (the venue's rows), then left to right.
    ordered = sorted(out.values(), key=lambda x: (x["top"], x["left"]))
    band, bottom = 0, 0
    for sec in ordered:
        if sec["top"] > bottom and bottom:
            band += 1
        sec["band"] = band
        bottom = max(bottom, sec["bottom"])
    return ordered


def bands_of(sections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sections by band (rows they share): the page stacks bands and lays a band's sections
    side by side, as the venue has them."""
    bands: dict[int, list[dict[str, Any]]] = {}
    for sec in sections:
        bands.setdefault(int(sec["band"]), []).append(sec)
    return [{"band": b, "sections": secs} for b, secs in sorted(bands.items())]


def tiers_of(seats: tuple[SeatInfo, ...], currency: str,
             colours: dict[str, str]) -> list[dict[str, str]]:
    """Price tiers for the legend: name, price range and colour on the map."""
    tiers: dict[str, list[int]] = {}
    for s in seats:
        tiers.setdefault(s.tier_name or "", []).append(s.price)
    out = []
    for name, prices in tiers.items():
        lo, hi = min(prices), max(prices)
        text = format_money(lo, currency) if lo == hi else \
            _("{low} - {high}", low=format_money(lo, currency), high=format_money(hi, currency))
        out.append({"name": name or _("Standard"), "price": text, "color": colours[name]})
    return out


def features_of(seats: tuple[SeatInfo, ...]) -> list[str]:
    """Which features the event's seats have (the legend shows only those)."""
    have = set().union(*(s.features for s in seats)) if seats else set()
    return [f for f in FEATURE_WORDS if f in have]
