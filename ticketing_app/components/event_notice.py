"""What a buyer must know about an event's state on its page: cancelled (with the reason) or
not on sale. Its own small state, loaded with the page and read again the moment a live-sync
broadcast says the event's sales closed (a cancellation while the page is open)."""

from __future__ import annotations

import reflex as rx
from reflex.vars import Var, VarData

from ticketing_app import routes
from ticketing_app.bootstrap import get_runtime
from ticketing_app.components import i18n as ui  # the browser's `_` (this module's is the server's)
from ticketing_app.domain import errors
from ticketing_app.i18n import N_, _
from ticketing_app.state.base import BuyerState
from ticketing_app.state.seat_map import SeatMapState, _event_id_from_path

NOTICES = {
    "CANCELLED": N_("This event is cancelled. Every ticket is refunded; see My tickets."),
    "CLOSED": N_("Sales for this event are closed. Seats cannot be held."),
}
# The same, for a page that was open when it happened: it explains the holds that vanished.
LIVE_NOTICES = {
    "CANCELLED": N_("This event was cancelled while this page was open. Seats can no longer "
                    "be held: any seats you were holding were released, and nothing was "
                    "charged."),
    "CLOSED": N_("Sales for this event closed while this page was open. Seats can no longer "
                 "be held."),
}
STATUS_CHECK_ID = "status-check"


class EventNoticeState(BuyerState):
    status: rx.Field[str] = rx.field("")
    notice: rx.Field[str] = rx.field("")
    reason: rx.Field[str] = rx.field("")
    live: rx.Field[bool] = rx.field(False)

    @rx.event
    async def load(self) -> None:
        await self._read(live=False)

    @rx.event
    async def recheck(self) -> None:
        """A broadcast says the sales opened or closed: the status (and why) from the
        database. Worded as news only for a page that saw the event on sale."""
        await self._read(live=self.status == "ON_SALE")

    async def _read(self, live: bool) -> None:
        rt = await get_runtime()
        try:
            ev = await rt.catalog.public_event(_event_id_from_path(self.router.url.path),
                                               fresh=True)
        except errors.EventNotFound:
            self.status, self.notice, self.reason, self.live = "", "", "", False
            return
        notices = LIVE_NOTICES if live else NOTICES
        self.status, self.live = ev.status, live and ev.status in LIVE_NOTICES
        self.notice = _(notices[ev.status]) if ev.status in notices else ""
        self.reason = _("Reason: {reason}", reason=ev.cancel_reason) \
            if ev.status == "CANCELLED" and ev.cancel_reason else ""


def _status_watcher() -> rx.Component:
    """Hidden: when the live map's sale status disagrees with the notice's, one click reads
    the status again (the notice then explains what happened)."""
    open_ = SeatMapState.live_open
    status = EventNoticeState.status
    stale: Var[bool] = Var(
        _js_expr=f"(({status!s}) !== '' && ({open_!s}) !== (({status!s}) === 'ON_SALE'))",
        _var_type=bool,
        _var_data=VarData.merge(open_._get_all_var_data(), status._get_all_var_data()))
    hooks: dict[str, VarData | None] = {
        "useEffect(() => { if (!(" + f"{stale!s}" + ")) return; const t = setTimeout(() => "
        f"document.getElementById('{STATUS_CHECK_ID}')?.click(), 50); "
        "return () => clearTimeout(t); }, [" + f"{stale!s}]);":
            VarData.merge(stale._get_all_var_data(), VarData(imports={"react": ["useEffect"]})),
    }
    watch: Var[bool] = Var(_js_expr=f"({stale!s})", _var_type=bool,
                           _var_data=VarData.merge(stale._get_all_var_data(),
                                                   VarData(hooks=hooks)))
    return rx.fragment(
        rx.el.button("status check", id=STATUS_CHECK_ID,  # i18n: ignore
                     on_click=EventNoticeState.recheck, tab_index=-1, aria_hidden="true",
                     style={"display": "none"}),
        rx.el.span(id="status-stale", data_stale=rx.cond(watch, "true", "false"), hidden=True),
    )


def event_notice() -> rx.Component:
    return rx.hstack(
        rx.box(
            rx.cond(EventNoticeState.notice != "",
                    rx.callout(
                        rx.vstack(rx.text(EventNoticeState.notice),
                                  rx.cond(EventNoticeState.reason != "",
                                          rx.text(EventNoticeState.reason, weight="medium",
                                                  id="event-reason")),
                                  spacing="1"),
                        icon="info", id="event-notice",
                        data_status=EventNoticeState.status,
                        data_live=rx.cond(EventNoticeState.live, "true", "false"),
                        color_scheme=rx.cond(EventNoticeState.status == "CANCELLED", "red",
                                             "amber"))),
            # A live region present from the first render, so the news is announced.
            role="status", aria_live="polite",
        ),
        rx.link(ui._("My tickets"), href=routes.MY_TICKETS, size="2",
                style={"display": "inline-flex", "align_items": "center",
                       "min_height": "44px"}),
        _status_watcher(),
        align="center", spacing="4",
    )
