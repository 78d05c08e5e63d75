"""The buyer's cart on an event: the seats they hold, with prices, the total and the hold's
expiry. Thin over ReservationService.

The countdown ticks in the browser (components/cart.py) from `expires_at_ms` and the server's
clock (`server_now_ms`), so a thousand buyers holding seats cost the server nothing per second.
The browser asks `check` again when its countdown reaches zero or when the live seat map shows
a different number of its seats than the cart lists (a hold from another tab, a best-available
hold, the sweeper's expiry, a sale): the server's answer is the truth, and seats that left the
cart because their hold ran out are announced.
"""

from __future__ import annotations

import time
from typing import Any

import reflex as rx

from ticketing_app.bootstrap import Runtime, get_runtime
from ticketing_app.domain import errors
from ticketing_app.i18n import _, format_money, ngettext, seat_label
from ticketing_app.live import rooms
from ticketing_app.state.base import BuyerState
from ticketing_app.state.messages import hold_error_text

# The countdown turns amber and offers an extend this many seconds before the end (the
# original's UI did the same at 10 s).
WARN_S = 10


def _event_id(path: str) -> int:
    for part in reversed([p for p in path.split("?")[0].split("/") if p]):
        if part.isdigit():
            return int(part)
    return 0


def now_ms() -> int:
    return int(time.time() * 1000)


class CartState(BuyerState):
    event_id: rx.Field[int] = rx.field(0)
    currency: rx.Field[str] = rx.field("KRW")
    items: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)
    total: rx.Field[str] = rx.field("")
    # Earliest expiry of the holds still in the cart (not yet in an order); 0 = none.
    expires_at_ms: rx.Field[int] = rx.field(0)
    server_now_ms: rx.Field[int] = rx.field(0)
    open: rx.Field[bool] = rx.field(False)
    notice: rx.Field[str] = rx.field("")
    _expiry: dict[int, int] = {}  # seat id -> its hold's expiry, to tell an expiry from a sale

    @rx.var
    def count(self) -> int:
        return len(self.items)

    async def sync(self, rt: Runtime, event_id: int | None = None) -> list[str]:
        """Re-read the buyer's holds; returns the labels of seats whose hold ran out."""
        if event_id is not None:
            self.event_id = event_id
        if not self.event_id:
            return []
        buyer = self.buyer()
        holds = await rt.reservations.my_holds(buyer, self.event_id)
        layout = (await rt.catalog.layout(self.event_id)).by_id()
        ev = await rt.catalog.get_event(self.event_id)
        self.currency = ev.currency
        now = now_ms()
        previous = {int(i["id"]): str(i["label"]) for i in self.items}
        current = {h.seat_id for h in holds}
        lapsed = [label for sid, label in previous.items()
                  if sid not in current and 0 < self._expiry.get(sid, 0) <= now + 1000
                  and not self._sold(sid)]
        items: list[dict[str, Any]] = []
        amount = 0
        for h in holds:
            seat = layout.get(h.seat_id)
            if seat is None:
                continue
            amount += seat.price
            items.append({"id": h.seat_id,
                          "label": seat_label(seat.section, seat.row_name or seat.r, seat.c),
                          "tier": seat.tier_name,
                          "price": format_money(seat.price, ev.currency),
                          "in_order": h.in_order})
        self.items = items
        self.total = format_money(amount, ev.currency) if items else ""
        self._expiry = {h.seat_id: h.expires_at_ms for h in holds}
        waiting = [h.expires_at_ms for h in holds if not h.in_order]
        self.expires_at_ms = min(waiting) if waiting else 0
        self.server_now_ms = now
        if lapsed:
            self.notice = ngettext(
                "Your hold on {seats} expired; the seat is available to everyone again.",
                "Your hold on {seats} expired; the seats are available to everyone again.",
                len(lapsed), seats=", ".join(lapsed))
        return lapsed

    def _sold(self, seat_id: int) -> bool:
        hub = rooms.hub()
        view = hub.peek(self.event_id) if hub else None
        idx = view.index.get(seat_id) if view else None
        return view is not None and idx is not None and view.codes[idx] == "S"

    @rx.event
    async def load(self) -> None:
        rt = await get_runtime()
        self.notice = ""
        self.open = False
        event_id = _event_id(self.router.url.path)
        if event_id != self.event_id:
            self.items, self._expiry = [], {}
        try:
            await self.sync(rt, event_id)
        except errors.DomainError:
            self.items, self.expires_at_ms = [], 0

    @rx.event
    async def check(self) -> Any:
        """The browser's countdown ran out, or the live map disagrees with the cart."""
        rt = await get_runtime()
        lapsed = await self.sync(rt)
        if lapsed:
            return rx.toast.warning(self.notice, id="hold-expired", duration=8000)
        return None

    @rx.event
    async def remove(self, seat_id: int) -> Any:
        rt = await get_runtime()
        label = next((str(i["label"]) for i in self.items if int(i["id"]) == seat_id), "")
        try:
            await rt.reservations.release(self.buyer(), self.event_id, [seat_id])
        except errors.DomainError as exc:
            await self.sync(rt)
            return rx.toast.error(hold_error_text(exc, label))
        self._expiry = {k: v for k, v in self._expiry.items() if k != seat_id}
        await self.sync(rt)
        return None

    @rx.event
    async def extend(self) -> Any:
        rt = await get_runtime()
        seats = [int(i["id"]) for i in self.items if not i["in_order"]]
        if not seats:
            return None
        try:
            await rt.reservations.extend(self.buyer(), self.event_id, seats, None,
                                         web=True)
        except errors.DomainError as exc:
            await self.sync(rt)
            return rx.toast.error(hold_error_text(exc))
        before = self.expires_at_ms
        await self.sync(rt)
        if self.expires_at_ms <= before:
            return rx.toast.info(_("Your hold cannot be extended any further: it has reached "
                                   "the longest time a hold may last."))
        return rx.toast.success(_("Hold extended."), duration=2000)

    @rx.event
    def toggle_open(self) -> None:
        self.open = not self.open

    @rx.event
    def close_drawer(self) -> None:
        self.open = False

    @rx.event
    def set_open(self, value: bool) -> None:
        self.open = value
