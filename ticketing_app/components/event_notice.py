"""What a buyer must know about an event's state on its page: cancelled (and refunded) or not
on sale. Its own small state, loaded with the page."""

from __future__ import annotations

import reflex as rx

from ticketing_app import routes
from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain import errors
from ticketing_app.state.base import BuyerState
from ticketing_app.state.seat_map import _event_id_from_path

NOTICES = {
    "CANCELLED": "This event is cancelled. Every ticket is refunded; see My tickets.",
    "CLOSED": "Sales for this event are closed.",
}


class EventNoticeState(BuyerState):
    status: str = ""
    notice: str = ""

    @rx.event
    async def load(self) -> None:
        rt = await get_runtime()
        try:
            ev = await rt.catalog.public_event(_event_id_from_path(self.router.url.path),
                                               fresh=True)
        except errors.EventNotFound:
            self.status, self.notice = "", ""
            return
        self.status, self.notice = ev.status, NOTICES.get(ev.status, "")


def event_notice() -> rx.Component:
    return rx.hstack(
        rx.cond(EventNoticeState.notice != "",
                rx.callout(EventNoticeState.notice, icon="info", id="event-notice",
                           color_scheme=rx.cond(EventNoticeState.status == "CANCELLED", "red",
                                                "amber"))),
        rx.link("My tickets", href=routes.MY_TICKETS, size="2",
                style={"display": "inline-flex", "align_items": "center",
                       "min_height": "44px"}),
        align="center", spacing="4",
    )
