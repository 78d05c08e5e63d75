"""The waitlist on a sold-out event's page (join with an e-mail address), and the page a
mailed offer's link opens: it hands the held seat to this browser and goes to the checkout.
Small states of their own, loaded with their pages."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.components.i18n import _, language_switcher
from ticketing_app.domain import errors
from ticketing_app.i18n import gettext
from ticketing_app.routes import checkout_url
from ticketing_app.services.access_codes import in_presale
from ticketing_app.state.base import BuyerState
from ticketing_app.state.seat_map import _event_id_from_path


class WaitlistState(BuyerState):
    sold_out: bool = False
    joined: bool = False
    position: int = 0
    _event_id: int = 0

    @rx.event
    async def load(self) -> None:
        rt = await get_runtime()
        self._event_id = _event_id_from_path(self.router.url.path)
        self.joined = False
        try:
            ev = await rt.catalog.public_event(self._event_id, fresh=True)
        except errors.EventNotFound:
            self.sold_out = False
            return
        self.sold_out = ev.status == "ON_SALE" and not in_presale(ev) and \
            not await rt.waitlist.free_seats(self._event_id)

    @rx.event
    async def join(self, form: dict[str, Any]) -> Any:
        rt = await get_runtime()
        try:
            entry = await rt.waitlist.join(self._event_id, str(form.get("email", "")))
        except errors.ValidationFailed:
            return rx.toast.error(gettext("Enter your e-mail address."))
        except errors.Conflict:
            self.sold_out = False
            return rx.toast.info(
                gettext("Seats are available again: choose one on the seat map."))
        self.joined, self.position = True, await rt.waitlist.position(entry)
        return None


def waitlist_panel() -> rx.Component:
    return rx.cond(WaitlistState.sold_out, rx.callout(
        rx.vstack(
            rx.text(_("Sold out. Join the waitlist: when a seat is freed, the next in line is "
                      "offered it by e-mail for a limited time."), id="waitlist-notice"),
            rx.cond(WaitlistState.joined,
                    rx.text(_("You are on the waitlist (number {n}). Watch your inbox.",
                              n=WaitlistState.position), weight="bold", id="waitlist-joined"),
                    rx.form(rx.hstack(
                        rx.el.label(_("E-mail"), html_for="waitlist-email"),
                        rx.input(name="email", id="waitlist-email", type="email", size="2"),
                        rx.button(_("Join the waitlist"), type="submit", id="waitlist-join"),
                        align="center", spacing="2"),
                        on_submit=WaitlistState.join, reset_on_submit=False)),
            spacing="2", align="start"),
        icon="bell", color_scheme="blue", id="waitlist"))


class OfferState(BuyerState):
    problem: str = ""

    @rx.event
    async def claim(self) -> Any:
        rt = await get_runtime()
        parts = [p for p in self.router.url.path.split("?")[0].split("/") if p]
        token = parts[-1] if len(parts) >= 4 and parts[-2] == "offer" else ""
        try:
            got = await rt.waitlist.claim(token, self.buyer())
        except errors.NotFound:
            self.problem = gettext("This offer does not exist.")
            return None
        except errors.DomainError:
            self.problem = gettext("This offer has lapsed or was taken; the seat went to the next "
                             "person on the waitlist.")
            return None
        return rx.redirect(checkout_url(got.event_id), replace=True)


def offer_page() -> rx.Component:
    return rx.container(
        rx.hstack(rx.spacer(), language_switcher()),
        rx.cond(OfferState.problem != "",
                rx.vstack(rx.heading(_("Waitlist offer"), size="6"),
                          rx.callout(OfferState.problem, icon="info", color_scheme="amber",
                                     id="offer-problem"),
                          rx.link(_("All events"), href="/"),
                          spacing="3"),
                rx.center(rx.spinner(size="3"), padding="4em")),
        padding_y="2em", size="3")
