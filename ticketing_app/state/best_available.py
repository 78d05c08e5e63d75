"""The seat page's "best available" control: thin over BestAvailableService."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain import errors
from ticketing_app.domain.seat_layout import SeatInfo
from ticketing_app.domain.seats import row_label
from ticketing_app.i18n import _, seat_label
from ticketing_app.i18n.formats import PLAIN_SECTIONS
from ticketing_app.routes import queue_url
from ticketing_app.state.base import BuyerState
from ticketing_app.state.cart import CartState
from ticketing_app.state.waiting_room import event_id_from_path

ANY_TIER = "*"  # the option the page draws in the reader's language
QUANTITIES = [str(n) for n in range(1, 9)]
COMPANIONS = [str(n) for n in range(0, 4)]


def held_text(seats: list[SeatInfo]) -> str:
    """The seats just held in the reader's language: `Row A seats 4-7` for a block in one row,
    else each seat's name."""
    if len(seats) == 1:
        s = seats[0]
        return seat_label(s.section, s.row_name or s.r, s.c)
    first, last = seats[0], seats[-1]
    same_row = all((x.section, x.r) == (first.section, first.r) for x in seats)
    if same_row and last.c - first.c == len(seats) - 1:
        row = first.row_name or row_label(first.r)
        if first.section in PLAIN_SECTIONS:
            return _("Row {row} seats {first}-{last}", row=row, first=first.c, last=last.c)
        return _("{section} Row {row} seats {first}-{last}", section=first.section, row=row,
                 first=first.c, last=last.c)
    return ", ".join(seat_label(x.section, x.row_name or x.r, x.c) for x in seats)


class BestAvailableState(BuyerState):
    event_id: rx.Field[int] = rx.field(0)
    tiers: rx.Field[list[str]] = rx.field(default_factory=list)
    tier: rx.Field[str] = rx.field(ANY_TIER)
    quantity: rx.Field[str] = rx.field("2")
    message: rx.Field[str] = rx.field("")
    ok: rx.Field[bool] = rx.field(False)
    has_wheelchair: rx.Field[bool] = rx.field(False)
    companions: rx.Field[str] = rx.field("1")

    @rx.event
    async def load(self) -> None:
        rt = await get_runtime()
        self.event_id = event_id_from_path(self.router.url.path)
        self.message = ""
        try:
            await rt.catalog.public_event(self.event_id)  # a draft's tiers stay unknown
            layout = await rt.catalog.layout(self.event_id)
        except errors.EventNotFound:
            self.tiers = []
            return
        self.tiers = list(dict.fromkeys(s.tier_name for s in layout.seats if s.tier_name))
        self.has_wheelchair = bool(layout.wheelchair_ids)

    @rx.event
    def set_companions(self, value: str) -> None:
        self.companions = value

    @rx.event
    async def find_accessible(self) -> Any:
        """A wheelchair space and the companion seats beside it, in one atomic step."""
        return await self._find(None, 1 + int(self.companions), int(self.companions))

    @rx.event
    def set_tier(self, value: str) -> None:
        self.tier = value

    @rx.event
    def set_quantity(self, value: str) -> None:
        self.quantity = value

    @rx.event
    async def find(self) -> Any:
        tier = None if self.tier == ANY_TIER else self.tier
        return await self._find(tier, int(self.quantity), None)

    async def _find(self, tier: str | None, quantity: int, companions: int | None) -> Any:
        rt = await get_runtime()
        try:
            buyer = self.claimant()
        except errors.DomainError as exc:
            self.ok, self.message = False, exc.message
            return None
        entry = await rt.waiting.entry(buyer, self.event_id)
        if not entry.may_enter:
            return rx.redirect(queue_url(self.event_id))
        try:
            held = await rt.best_available.hold_best(
                buyer, self.event_id, quantity, tier, None, admission=entry.token,
                client=self.client_address(), companions=companions, web=True)
        except errors.DomainError as exc:
            self.ok, self.message = False, exc.message
            return None
        self.ok = True
        self.message = _("Held for you: {seats}.", seats=held_text(held.seats))
        cart = await self.get_state(CartState)
        await cart.sync(rt, self.event_id)
        return None
