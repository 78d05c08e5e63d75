"""The box office's pages: the order search, and one order with its actions."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app import routes
from ticketing_app.components.admin_layout import admin_page, as_var, field_label
from ticketing_app.components.i18n import _
from ticketing_app.state.admin_orders import AdminOrdersState as S
from ticketing_app.state.admin_orders import AdminOrderState as O


def hit_row(h: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link("#", h["id"].to(str), href=h["href"].to(str),
                              class_name="order-link")),
        rx.table.cell(h["event"].to(str)),
        rx.table.cell(h["name"].to(str)),
        rx.table.cell(h["email"].to(str)),
        rx.table.cell(h["status"].to(str)),
        rx.table.cell(h["seats"].to(str)),
        rx.table.cell(h["remaining"].to(str)),
        rx.table.cell(h["created"].to(str)),
    )


@admin_page(routes.ADMIN_ORDERS, "Orders", on_load=(S.load,))  # i18n: ignore
def admin_orders_page() -> rx.Component:
    return rx.vstack(
        rx.heading(_("Find an order"), size="6"),
        rx.form(rx.hstack(
            field_label(_("Order number, buyer name or e-mail, or ticket code"), "order-q"),
            rx.input(name="q", id="order-q", default_value=S.query, width="24em"),
            rx.button(_("Search"), type="submit", id="order-search"),
            align="end", wrap="wrap"), on_submit=S.search, reset_on_submit=False),
        rx.cond(S.searched & (S.results.length() == 0),  # type: ignore[attr-defined]
                rx.text(_("No order matches."), id="no-orders", color="gray")),
        rx.cond(S.results.length() > 0, rx.table.root(  # type: ignore[attr-defined]
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                _("Order"), _("Event"), _("Name"), _("E-mail"), _("Status"), _("Seats"),
                _("Total now"), _("Placed"))])),
            rx.table.body(rx.foreach(S.results, hit_row)), width="100%", id="order-results")),
        spacing="3", width="100%", align="stretch",
    )


def item_row(i: ObjectVar[dict[str, Any]]) -> rx.Component:
    box_id = "refund-seat-" + i["seat_id"].to(str)
    return rx.table.row(
        rx.table.cell(rx.cond(i["tickable"].to(bool), rx.el.input(
            type="checkbox", name=i["field"].to(str), id=box_id,
            aria_label=_("Refund {seat}", seat=i["label"].to(str))))),
        rx.table.cell(rx.el.label(i["label"].to(str), html_for=box_id)),
        rx.table.cell(i["tier"].to(str)),
        rx.table.cell(i["price"].to(str)),
        rx.table.cell(i["state"].to(str), " ", i["admitted"].to(str)),
        data_seat=i["seat_id"].to(str), class_name="order-item",
    )


def money() -> rx.Component:
    def figure(label: rx.Var[str], value: Any, fid: str) -> rx.Component:
        return rx.vstack(rx.text(label, size="1", color="gray"),
                         rx.text(value, size="5", weight="bold", id=fid), spacing="0")

    return rx.hstack(figure(_("Paid"), O.paid, "order-paid"),
                     figure(_("Refunded"), O.refunded, "order-refunded"),
                     figure(_("Total now"), O.remaining, "order-remaining"), spacing="6")


def refund_dialog() -> rx.Component:
    return rx.alert_dialog.root(rx.alert_dialog.content(
        rx.alert_dialog.title(_("Confirm the refund")),
        rx.alert_dialog.description(O.confirm_text, id="refund-confirm-text"),
        rx.cond(O.confirm_warning != "", rx.callout(
            O.confirm_warning, color_scheme="red", id="refund-checked-in-warning")),
        rx.hstack(
            rx.alert_dialog.cancel(rx.button(_("Keep the order"), variant="soft",
                                             on_click=O.cancel_refund, id="refund-cancel")),
            rx.alert_dialog.action(rx.button(
                rx.cond(O.confirm_warning != "", _("Refund anyway"), _("Refund")),
                color_scheme="red", on_click=O.confirm_refund, id="refund-confirm")),
            justify="end", spacing="3", margin_top="1em")),
        open=O.confirm_open, on_open_change=O.dialog_changed)


def tickets_form() -> rx.Component:
    return rx.form(rx.vstack(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                _("Refund"), _("Seat"), _("Tier"), _("Price"), _("Ticket"))])),
            rx.table.body(rx.foreach(O.items, item_row)), width="100%", id="order-items"),
        rx.cond(O.refundable, rx.hstack(
            rx.el.label(rx.el.input(type="checkbox", name="block", id="refund-block"), " ",
                        _("keep the seats blocked"), html_for="refund-block"),
            rx.button(_("Refund selected"), type="submit", color_scheme="red",
                      variant="soft", id="refund-selected"),
            rx.button(_("Refund whole order"), type="button", color_scheme="red",
                      variant="outline", on_click=O.ask_refund_all, id="refund-all"),
            spacing="3", align="center", wrap="wrap")),
        align="stretch"), on_submit=O.ask_refund, reset_on_submit=False)


def history_row(h: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.table.row(rx.table.cell(h["at"].to(str)), rx.table.cell(h["what"].to(str)),
                        rx.table.cell(h["who"].to(str)), rx.table.cell(h["details"].to(str)))


def payment_row(p: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.table.row(rx.table.cell(p["at"].to(str)), rx.table.cell(p["status"].to(str)),
                        rx.table.cell(p["amount"].to(str)), rx.table.cell(p["reason"].to(str)))


def order_body() -> rx.Component:
    return rx.vstack(
        rx.link(_("Find another order"), href=routes.ADMIN_ORDERS, size="2"),
        rx.hstack(rx.heading(_("Order #{id}", id=O.order_id), size="6", id="order-title"),
                  rx.badge(O.status, size="2", id="order-status"), align="center"),
        rx.link(O.event_title, href="/admin/events/" + as_var(O.event_id).to(str)),
        rx.text(_("Buyer: {name}, {email}", name=O.name, email=O.email), id="order-buyer"),
        money(),
        rx.hstack(rx.cond(O.status_code == "CONFIRMED", rx.button(
            _("Resend tickets"), on_click=O.resend, variant="outline", id="resend-tickets"))),
        rx.heading(_("Tickets"), size="4"),
        tickets_form(),
        refund_dialog(),
        rx.heading(_("Payments"), size="4"),
        rx.table.root(rx.table.body(rx.foreach(O.payments, payment_row)), width="100%",
                      id="order-payments"),
        rx.heading(_("History"), size="4"),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                _("When"), _("What"), _("Who"), _("Details"))])),
            rx.table.body(rx.foreach(O.history, history_row)), width="100%",
            id="order-history"),
        spacing="3", width="100%", align="stretch",
    )


@admin_page(routes.ADMIN_ORDER, "Order", on_load=(O.load,))  # i18n: ignore
def admin_order_page() -> rx.Component:
    return rx.cond(O.found, order_body(),
                   rx.heading(_("Order not found"), size="5", id="order-not-found"))
