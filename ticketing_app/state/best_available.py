"""The seat page's "best available" control: thin over BestAvailableService."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain import errors
from ticketing_app.routes import queue_url
from ticketing_app.state.base import BuyerState
from ticketing_app.state.waiting_room import event_id_from_path

ANY_TIER = "Any tier"
QUANTITIES = [str(n) for n in range(1, 9)]


def held_text(labels: list[str]) -> str:
    """`Row A seat 4` .. `Row A seat 7` -> `Row A seats 4-7`."""
    if len(labels) == 1:
        return labels[0]
    row, _, first = labels[0].rpartition(" seat ")
    return f"{row} seats {first}-{labels[-1].rpartition(' seat ')[2]}"


class BestAvailableState(BuyerState):
    event_id: rx.Field[int] = rx.field(0)
    tiers: rx.Field[list[str]] = rx.field(default_factory=list)
    tier: rx.Field[str] = rx.field(ANY_TIER)
    quantity: rx.Field[str] = rx.field("2")
    message: rx.Field[str] = rx.field("")
    ok: rx.Field[bool] = rx.field(False)

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
        self.tiers = [ANY_TIER, *dict.fromkeys(s.tier_name for s in layout.seats if s.tier_name)]

    @rx.event
    def set_tier(self, value: str) -> None:
        self.tier = value

    @rx.event
    def set_quantity(self, value: str) -> None:
        self.quantity = value

    @rx.event
    async def find(self) -> Any:
        rt = await get_runtime()
        try:
            buyer = self.claimant()
        except errors.DomainError as exc:
            self.ok, self.message = False, exc.message
            return None
        entry = await rt.waiting.entry(buyer, self.event_id)
        if not entry.may_enter:
            return rx.redirect(queue_url(self.event_id))
        tier = None if self.tier == ANY_TIER else self.tier
        try:
            held = await rt.best_available.hold_best(
                buyer, self.event_id, int(self.quantity), tier, None, admission=entry.token,
                client=self.client_address(), web=True)
        except errors.DomainError as exc:
            self.ok, self.message = False, exc.message
            return None
        self.ok = True
        self.message = f"Held for you: {held_text([s.label for s in held.seats])}."
        return None
