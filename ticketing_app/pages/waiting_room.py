"""The waiting room: the bot check ("Checking your browser..."), then the place, people ahead
and estimated wait, updated live."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.i18n import _
from ticketing_app.state.messages import CHECK_RETRY, CHECKING_BROWSER, CHECKING_DETAIL
from ticketing_app.state.waiting_room import WaitingRoomState


def stat(label: rx.Var[str], value: rx.Var, test_id: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", color="gray"),
        rx.heading(value, size="7", id=test_id),
        align="center",
    )


def waiting() -> rx.Component:
    s = WaitingRoomState
    return rx.vstack(
        rx.text(_("The sale is busy right now. Keep this page open: you will be taken to the "
                  "seats when it is your turn. Reloading keeps your place.")),
        rx.hstack(
            stat(_("Your place"), s.position.to(str), "queue-position"),
            stat(_("People ahead of you"), s.people_ahead.to(str), "queue-ahead"),
            stat(_("Estimated wait"), s.estimated_wait, "queue-wait"),
            spacing="8",
        ),
        rx.spinner(size="3"),
        spacing="5",
        align="center",
    )


def checking() -> rx.Component:
    """While the browser solves the challenge. The solver moves the bar itself (an estimate
    from the work done); React never sets its value, so it does not fight the script."""
    return rx.vstack(
        rx.heading(_(CHECKING_BROWSER), size="5"),
        rx.text(_(CHECKING_DETAIL)),
        rx.el.progress(id="pow-progress", max=100, style={"width": "16em"}),
        spacing="3",
        align="center",
        id="browser-check",
    )


def check_failed() -> rx.Component:
    return rx.vstack(
        rx.text(WaitingRoomState.check_error, id="browser-check-error"),
        rx.button(_(CHECK_RETRY), on_click=WaitingRoomState.join, id="browser-check-retry"),
        align="center",
    )


def expired() -> rx.Component:
    return rx.vstack(
        rx.text(_("Your turn came and went: the admission has expired.")),
        rx.button(_("Join the queue again"), on_click=WaitingRoomState.join, id="queue-rejoin"),
        align="center",
    )


def waiting_room_page() -> rx.Component:
    s = WaitingRoomState
    return rx.container(
        rx.cond(
            s.not_found,
            rx.heading(_("Event not found")),
            rx.vstack(
                rx.link(_("All events"), href="/"),
                rx.heading(_("Waiting room"), size="8"),
                rx.text(s.title, size="5"),
                rx.match(
                    s.status,
                    ("checking", checking()),
                    ("check_failed", check_failed()),
                    ("expired", expired()),
                    waiting(),
                ),
                spacing="4",
                align="center",
                id="waiting-room",
                data_status=s.status,
            ),
        ),
        padding_y="2em",
    )
