"""The order a mailed link opens (any browser), and "find my order"."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app import routes
from ticketing_app.components.i18n import _, language_switcher
from ticketing_app.state.find_order import FindOrderState as F
from ticketing_app.state.order_link import OrderLinkState as S


def _ticket(t: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.card(rx.hstack(
        rx.vstack(
            rx.text(t["seat"].to(str), weight="bold", size="4"),
            rx.text(t["tier"].to(str), " · ", t["price"].to(str), size="2"),
            rx.badge(t["status_text"].to(str), data_status=t["status"].to(str),
                     class_name="ticket-status",
                     color_scheme=rx.cond(t["usable"].to(bool), "green", "gray")),
            spacing="1", align="start"),
        rx.spacer(),
        rx.cond(t["usable"].to(bool),
                rx.vstack(rx.image(src=t["qr"].to(str), width="150px", height="150px",
                                   alt=_("QR code of the ticket for {seat}",
                                         seat=t["seat"].to(str)),
                                   class_name="ticket-qr"),
                          rx.text(t["code"].to(str), size="1", font_family="monospace",
                                  class_name="ticket-code", max_width="150px",
                                  style={"word_break": "break-all"}),
                          align="center")),
        width="100%"), width="100%", class_name="ticket-card")


def _personal_data() -> rx.Component:
    return rx.card(rx.vstack(
        rx.heading(_("Your personal data"), size="4"),
        rx.cond(S.erased,
                rx.text(_("Your name and e-mail address were deleted from your orders. "
                          "Your tickets stay valid."), id="erased-note"),
                rx.text(_("We keep your name and e-mail address with your orders, to send "
                          "your tickets and for questions about them."))),
        rx.hstack(
            rx.link(_("Download my data (JSON)"), href=S.export, is_external=True,
                    id="export-data"),
            rx.cond(~S.erased & ~S.confirm_erase,
                    rx.button(_("Delete my personal data"), on_click=S.ask_erase,
                              color_scheme="red", variant="soft", id="erase-data")),
            spacing="4", align="center", wrap="wrap"),
        rx.cond(S.confirm_erase, rx.hstack(
            rx.text(_("Delete your name and e-mail address from every order placed with "
                      "this address? This cannot be undone.")),
            rx.button(_("Delete"), on_click=S.erase, color_scheme="red", id="erase-confirm"),
            rx.button(_("Keep"), on_click=S.keep_data, variant="soft"),
            spacing="3", align="center", wrap="wrap")),
        spacing="3", align="start"), width="100%", id="personal-data")


def _order() -> rx.Component:
    return rx.vstack(
        rx.heading(S.reference, size="7", id="order-reference"),
        rx.text(S.event, weight="bold", size="5", id="order-event"),
        rx.text(S.when, color="gray", id="order-when"),
        rx.cond(S.venue != "", rx.text(S.venue, color="gray", id="order-venue")),
        rx.cond(S.event_cancelled,
                rx.callout(_("This event is cancelled. Every ticket is refunded."),
                           color_scheme="red", icon="info")),
        rx.hstack(rx.badge(S.status_text, size="2"),
                  rx.text(_("Total: {total}", total=S.total), id="order-total"),
                  rx.cond(S.name != "", rx.text(_("Name: {name}", name=S.name),
                                                id="order-name")),
                  spacing="4", align="center", wrap="wrap"),
        rx.foreach(S.tickets, _ticket),
        rx.cond(S.pdf != "", rx.link(_("Download the tickets (PDF)"), href=S.pdf,
                                     is_external=True, id="order-pdf")),
        _personal_data(),
        spacing="3", width="100%", id="order-link", data_outcome=S.outcome,
    )


def _problem() -> rx.Component:
    text = rx.match(
        S.outcome,
        ("expired", _("This link has expired. Ask for a new one: it is sent to the e-mail "
                      "address of the order.")),
        ("missing", _("This order no longer exists.")),
        _("This link is not valid. Use the link from your e-mail as it is, or ask for a "
          "new one."),
    )
    return rx.vstack(
        rx.callout(text, color_scheme="amber", icon="info", id="order-link-problem",
                   data_outcome=S.outcome),
        rx.link(_("Find my order"), href=routes.FIND_ORDER),
        spacing="3", width="100%")


def order_link_page() -> rx.Component:
    return rx.container(rx.vstack(
        rx.hstack(rx.link(_("All events"), href=routes.HOME), rx.spacer(),
                  language_switcher(), width="100%", align="center"),
        rx.cond(S.outcome == "ok", _order(),
                rx.cond(S.outcome == "", rx.spinner(size="3"), _problem())),
        spacing="4", width="100%"), padding_y="2em", size="3")


def find_order_page() -> rx.Component:
    return rx.container(rx.vstack(
        rx.hstack(rx.link(_("All events"), href=routes.HOME), rx.spacer(),
                  language_switcher(), width="100%", align="center"),
        rx.heading(_("Find my order"), size="7"),
        rx.text(_("Enter the e-mail address you bought with and the order reference from "
                  "your confirmation. We send a link that opens your tickets on any "
                  "device.")),
        rx.form(rx.vstack(
            rx.el.label(_("E-mail"), html_for="find-email"),
            rx.input(id="find-email", name="email", type="email", auto_complete="email",
                     width="100%", size="3"),
            rx.el.label(_("Order reference"), html_for="find-reference"),
            rx.input(id="find-reference", name="reference", width="100%", size="3",
                     placeholder=_("Order #12")),
            rx.button(_("Send me the link"), type="submit", size="3", id="find-submit"),
            spacing="2", width="100%"), on_submit=F.find, reset_on_submit=False,
            width="100%"),
        rx.box(
            rx.cond(F.answer != "", rx.callout(F.answer, icon="mail", color_scheme="green",
                                               id="find-answer")),
            rx.cond(F.error != "", rx.callout(F.error, icon="info", color_scheme="amber",
                                              id="find-error")),
            role="status", aria_live="polite", width="100%"),
        spacing="3", width="100%", max_width="560px"), padding_y="2em")
