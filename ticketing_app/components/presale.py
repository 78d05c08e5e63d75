"""The presale on the event page: while only code holders may buy, the buyer is told when
the public sale opens and may enter an access code (one use, once per buyer; then every
hold of theirs goes through). Its own small state, loaded with the page."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.components.i18n import _
from ticketing_app.domain import errors
from ticketing_app.i18n import format_event_time, gettext
from ticketing_app.services.access_codes import in_presale
from ticketing_app.state.base import BuyerState
from ticketing_app.state.seat_map import _event_id_from_path


class PresaleState(BuyerState):
    active: bool = False  # the event is in its presale now
    unlocked: bool = False  # this buyer redeemed a code
    opens: str = ""  # when the public sale opens, in the venue's zone and reader's language
    _event_id: int = 0

    @rx.event
    async def load(self) -> None:
        rt = await get_runtime()
        self._event_id = _event_id_from_path(self.router.url.path)
        try:
            ev = await rt.catalog.public_event(self._event_id, fresh=True)
        except errors.EventNotFound:
            self.active = False
            return
        self.active = in_presale(ev)
        if self.active and ev.public_sale_starts_at is not None:
            self.opens = format_event_time(ev.public_sale_starts_at,
                                           await rt.catalog.time_zone(ev))
            self.unlocked = await rt.access_codes.is_open_to(self._event_id, self.buyer())

    @rx.event
    async def redeem(self, form: dict[str, Any]) -> Any:
        rt = await get_runtime()
        try:
            await rt.access_codes.redeem(self.buyer(), self._event_id,
                                         str(form.get("code", "")))
        except errors.ValidationFailed as exc:
            used_up = any(d.get("message") == "used up" for d in exc.details or [])
            return rx.toast.error(gettext("This access code has been used up.") if used_up
                                  else gettext("This access code is not valid for this event."))
        self.unlocked = True
        return rx.toast.success(gettext("Access code accepted: choose your seats."))


def presale_panel() -> rx.Component:
    return rx.cond(PresaleState.active, rx.callout(
        rx.vstack(
            rx.text(_("Presale: only holders of an access code can buy now. The public sale "
                      "opens {when}.", when=PresaleState.opens), id="presale-notice"),
            rx.cond(PresaleState.unlocked,
                    rx.text(_("Your access code is accepted: choose your seats."),
                            weight="bold", id="presale-unlocked"),
                    rx.form(rx.hstack(
                        rx.el.label(_("Access code"), html_for="access-code"),
                        rx.input(name="code", id="access-code", size="2", max_length=40,
                                 auto_complete="off"),
                        rx.button(_("Unlock"), type="submit", id="access-code-submit"),
                        align="center", spacing="2"),
                        on_submit=PresaleState.redeem, reset_on_submit=True)),
            spacing="2", align="start"),
        icon="lock", color_scheme="violet", id="presale"))
