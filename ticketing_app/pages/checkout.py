"""The checkout page: review the held seats, place the order and pay, then the outcome."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app import routes
from ticketing_app.components.cart import CHECK_ID, countdown
from ticketing_app.components.i18n import _
from ticketing_app.state.cart import CartState
from ticketing_app.state.checkout import CheckoutState


def _line(item: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.hstack(
        rx.text(item["label"].to(str)),
        rx.text(item["tier"].to(str), color="gray", size="2"),
        rx.spacer(),
        rx.text(item["price"].to(str)),
        width="100%", class_name="checkout-line", data_seat=item["id"].to(str),
    )


def _back() -> rx.Component:
    return rx.link(_("Back to the seat map"),
                   href=routes.EVENT_PREFIX + CheckoutState.event_id.to(str), id="back-to-map")


def event_summary() -> rx.Component:
    """The event bought for: its name, its date in the venue's zone and the venue."""
    return rx.cond(
        CheckoutState.event_title != "",
        rx.vstack(rx.text(CheckoutState.event_title, weight="bold", size="4",
                          id="checkout-event"),
                  rx.text(CheckoutState.event_when, color="gray", size="2",
                          id="checkout-when"),
                  spacing="0"),
    )


def _field(label: Any, name: str, type_: str, value: Any, error: Any, auto: str
           ) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=f"buyer-{name}", style={"font_weight": "500"}),
        rx.input(id=f"buyer-{name}", name=f"buyer_{name}", type=type_, default_value=value,
                 auto_complete=auto, width="100%", size="3",
                 aria_invalid=rx.cond(error != "", "true", "false"),
                 aria_describedby=f"buyer-{name}-error"),
        rx.text(error, color="red", size="2", id=f"buyer-{name}-error", aria_live="polite"),
        spacing="1", width="100%",
    )


def buyer_form() -> rx.Component:
    s = CheckoutState
    return rx.form(
        rx.vstack(
            _field(_("Name"), "name", "text", s.buyer_name, s.name_error, "name"),
            _field(_("E-mail"), "email", "email", s.buyer_email, s.email_error, "email"),
            rx.text(_("Your tickets and a link that opens them on any device are sent to "
                      "this address."), color="gray", size="2"),
            rx.button(_("Place order and pay"), type="submit", size="3", id="place-order",
                      width="100%"),
            spacing="3", width="100%",
        ),
        on_submit=CheckoutState.submit, reset_on_submit=False, width="100%",
        key=CheckoutState.event_id,
    )


def review() -> rx.Component:
    return rx.cond(
        CartState.count > 0,
        rx.vstack(
            countdown(),
            rx.foreach(CartState.items, _line),
            rx.divider(),
            rx.hstack(rx.text(_("Total"), weight="bold"), rx.spacer(),
                      rx.text(CartState.total, weight="bold"), width="100%"),
            buyer_form(),
            width="100%", spacing="3",
        ),
        rx.vstack(rx.text(_("Your cart is empty: hold seats on the seat map first."),
                          id="checkout-empty"), _back()),
    )


def progress() -> rx.Component:
    creating = CheckoutState.phase == "creating"
    return rx.vstack(
        rx.hstack(rx.spinner(size="3"),
                  rx.text(rx.cond(creating, _("Placing your order…"),
                                  _("Order #{id} placed. Waiting for the payment…",
                                    id=CheckoutState.order_id)),
                          id="checkout-progress-text"),
                  align="center", spacing="3"),
        rx.progress(value=rx.cond(creating, 30, 70), width="100%"),
        rx.text(_("Keep this page open; reloading it is safe."), color="gray", size="2"),
        id="checkout-progress", role="status", aria_live="polite", width="100%",
    )


def success() -> rx.Component:
    return rx.vstack(
        rx.callout(_("Payment received: your order is confirmed."), icon="circle-check",
                   color_scheme="green", id="checkout-success", width="100%"),
        rx.text(_("Reference:"), " ", rx.el.strong(CheckoutState.reference, id="order-reference")),
        rx.foreach(CheckoutState.summary, _line),
        rx.divider(),
        rx.hstack(rx.text(_("Paid"), weight="bold"), rx.spacer(),
                  rx.text(CheckoutState.summary_total, weight="bold", id="order-total"),
                  width="100%"),
        rx.text(_("These seats are now sold to you; your tickets are in My tickets."), size="2"),
        rx.cond(CheckoutState.buyer_email != "",
                rx.text(_("A confirmation is on its way to {email}: its link opens your "
                          "tickets on any device.", email=CheckoutState.buyer_email),
                        size="2", id="mail-note")),
        rx.hstack(_back(), rx.link(_("My tickets"), href=routes.MY_TICKETS), spacing="4"),
        width="100%", spacing="3",
    )


def failure() -> rx.Component:
    return rx.vstack(
        rx.callout(CheckoutState.message, icon="triangle-alert", color_scheme="red",
                   id="checkout-failed", width="100%"),
        rx.foreach(CheckoutState.summary, _line),
        rx.divider(),
        rx.hstack(rx.text(_("Total (not charged)"), weight="bold"), rx.spacer(),
                  rx.text(CheckoutState.summary_total, weight="bold", id="failed-total"),
                  width="100%"),
        rx.hstack(rx.button(_("Try again"), on_click=CheckoutState.try_again, id="try-again"),
                  _back(), spacing="4", align="center"),
        width="100%", spacing="3",
    )


def checkout_page() -> rx.Component:
    phase = CheckoutState.phase
    return rx.container(
        rx.vstack(
            rx.heading(_("Checkout"), size="7"),
            event_summary(),
            rx.cond((CheckoutState.message != "") & (phase == "review"),
                    rx.callout(CheckoutState.message, icon="info", color_scheme="amber",
                               id="checkout-message", width="100%")),
            rx.match(phase, ("review", review()), ("success", success()),
                     ("failed", failure()), progress()),
            spacing="4", width="100%", max_width="560px", id="checkout",
            data_phase=phase,
        ),
        holds_watcher_light(),
        padding_y="2em",
    )


def holds_watcher_light() -> rx.Component:
    """The countdown's zero asks the server; the live-map watcher needs the seat map."""
    return rx.el.button("check holds", id=CHECK_ID, on_click=CartState.check,  # i18n: ignore
                        tab_index=-1, aria_hidden="true", style={"display": "none"})

