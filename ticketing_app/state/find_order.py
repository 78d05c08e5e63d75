"""Find my order: an e-mail address and an order reference; when they match an order, its
link is mailed to that address. The page answers the same whatever was found (it never says
whether an address is known); look-ups are limited per address (ORDER_LOOKUP_PER_HOUR)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain import errors
from ticketing_app.i18n import _
from ticketing_app.state.base import BuyerState


class FindOrderState(BuyerState):
    answer: str = ""
    error: str = ""

    @rx.event
    def load(self) -> None:
        self.answer, self.error = "", ""

    @rx.event
    async def find(self, form: dict[str, Any]) -> None:
        rt = await get_runtime()
        self.answer, self.error = "", ""
        try:
            await rt.order_access.lookup(str(form.get("email", "")),
                                         str(form.get("reference", "")),
                                         self.client_address())
        except errors.RateLimited:
            self.error = _("Too many look-ups from here. Please try again in an hour.")
            return
        except errors.ValidationFailed as exc:
            fields = {str(d.get("field")) for d in exc.details or []}
            self.error = _("Enter the order reference from your confirmation, like "
                           "Order #12.") if "reference" in fields else \
                _("Enter the e-mail address you bought with.")
            return
        self.answer = _("If an order with that reference was placed with that e-mail "
                        "address, we have sent a link to it there. It opens your tickets "
                        "on any device.")
