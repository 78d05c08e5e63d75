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

from typing import Any

import reflex as rx

from ticketing_app.bootstrap import Runtime, get_runtime
from ticketing_app.db.models import Event
from ticketing_app.domain import errors
from ticketing_app.domain.seat_layout import SeatInfo
from ticketing_app.domain.seats import format_money, row_label
from ticketing_app.i18n import _, format_event_time
from ticketing_app.live import rooms
from ticketing_app.routes import queue_url
from ticketing_app.state.base import BuyerState
from ticketing_app.state.cart import CartState
from ticketing_app.state.messages import hold_error_text


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
    # Larger venues: one grid per section, each with its own rows and columns.
    sections: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)
    tiers: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)
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
        seats = [seat_entry(i, s, ev.currency) for i, s in enumerate(layout.seats)]
        self._labels = {int(x["id"]): str(x["label"]) for x in seats}
        self.sections = sections_of(seats)
        self.tiers = tiers_of(layout.seats, ev.currency)
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
    async def toggle_seat(self, seat_id: int) -> Any:
        """Hold a free seat, release one of mine; the cart follows at once."""
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
                                           client=self.client_address(), web=True)
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


def seat_entry(idx: int, s: SeatInfo, currency: str) -> dict[str, Any]:
    """One seat as the page renders it; `idx` points into the live codes."""
    price = format_money(s.price, currency)
    return {"id": s.id, "idx": idx, "r": s.r, "c": s.c, "label": s.label,
            "section": s.section, "price": price, "tier": s.tier_name or "Standard",
            "aria": f"{s.label}, {price}"}


def sections_of(seats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Seats grouped by section (layout order), each section its own grid: `gr`/`gc` place a
    seat in it (column 1 holds the row letters), whatever the section's offset in the venue."""
    out: dict[str, dict[str, Any]] = {}
    for seat in seats:
        out.setdefault(seat["section"], {"name": seat["section"], "seats": []})["seats"] \
            .append(seat)
    for sec in out.values():
        r0 = min(int(x["r"]) for x in sec["seats"]) - 1
        c0 = min(int(x["c"]) for x in sec["seats"]) - 1
        for x in sec["seats"]:
            x["gr"], x["gc"] = int(x["r"]) - r0, int(x["c"]) - c0 + 1
        sec["cols"] = max(int(x["c"]) for x in sec["seats"]) - c0
        rows = sorted({int(x["r"]) for x in sec["seats"]})
        sec["row_labels"] = [{"gr": r - r0, "label": row_label(r)} for r in rows]
    # Nearest the stage first (the venue's rows), then left to right.
    return sorted(out.values(), key=lambda x: (min(int(s["r"]) for s in x["seats"]),
                                               min(int(s["c"]) for s in x["seats"])))


def tiers_of(seats: tuple[SeatInfo, ...], currency: str) -> list[dict[str, str]]:
    """Price tiers for the legend: name, price range and colour."""
    tiers: dict[str, list[int]] = {}
    colors: dict[str, str] = {}
    for s in seats:
        name = s.tier_name or "Standard"
        tiers.setdefault(name, []).append(s.price)
        colors.setdefault(name, s.tier_color)
    out = []
    for name, prices in tiers.items():
        lo, hi = min(prices), max(prices)
        text = format_money(lo, currency) if lo == hi else \
            f"{format_money(lo, currency)} - {format_money(hi, currency)}"
        out.append({"name": name, "price": text, "color": colors[name]})
    return out
