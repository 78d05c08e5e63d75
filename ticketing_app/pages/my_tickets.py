"""My tickets (buyers)."""

from __future__ import annotations

from typing import Any, cast

import reflex as rx
from reflex.vars import ArrayVar, ObjectVar

from ticketing_app.components.i18n import _
from ticketing_app.state.my_tickets import MyTicketsState as M


def ticket_card(t: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.card(rx.hstack(
        rx.vstack(
            rx.text(t["event"].to(str), weight="bold", size="4"),
            rx.cond(t["cancelled"].to(bool),
                    rx.badge(_("Event cancelled"), color_scheme="red", size="2")),
            rx.text(t["when"].to(str), size="2", color="gray"),
            rx.text(t["seat"].to(str), " · ", t["tier"].to(str), " · ", t["price"].to(str),
                    size="3"),
            rx.badge(t["status_text"].to(str), data_status=t["status"].to(str),
                     class_name="ticket-status",
                     color_scheme=rx.cond(t["usable"].to(bool), "green", "gray")),
            rx.text(_("Order #{id}", id=t["order"].to(str)), size="1", color="gray"),
            spacing="1", align="start"),
        rx.spacer(),
        rx.cond(t["usable"].to(bool),
                rx.vstack(rx.image(src=t["qr"].to(str), width="150px", height="150px",
                                   alt=_("QR code of ticket {id}", id=t["id"].to(str)),
                                   class_name="ticket-qr"),
                          rx.text(t["code"].to(str), size="1", font_family="monospace",
                                  class_name="ticket-code", max_width="150px",
                                  style={"word_break": "break-all"}),
                          align="center")),
        width="100%"), width="100%", class_name="ticket-card")


def order_link(o: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.cond(o["usable"].to(bool), rx.link(
        _("Download tickets of order #{id} (PDF)", id=o["id"].to(str)),
        href=o["pdf"].to(str), is_external=True, size="2"))


def my_tickets_page() -> rx.Component:
    return rx.container(rx.vstack(
        rx.link(_("All events"), href="/"),
        rx.heading(_("My tickets"), size="7"),
        rx.cond(cast(ArrayVar[list[Any]], M.tickets).length() == 0,
                rx.text(_("No tickets yet. Tickets appear here when an order is paid."))),
        rx.foreach(M.tickets, ticket_card),
        rx.foreach(M.orders, order_link),
        rx.form(rx.hstack(
            rx.input(name="email", type="email", placeholder=_("E-mail for confirmations"),
                     default_value=M.email, width="20em"),
            rx.button(_("Save"), type="submit", variant="soft")),
            on_submit=M.save_email, reset_on_submit=False),
        spacing="3", width="100%"), padding_y="2em")
