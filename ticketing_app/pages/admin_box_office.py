"""One event's box office: comps and named reservations (issue, release, convert)."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app import routes
from ticketing_app.components.admin_layout import admin_page, as_var, layout_grid
from ticketing_app.components.i18n import _
from ticketing_app.i18n import N_
from ticketing_app.state.admin_box_office import AdminBoxOfficeState as S


def field(label: Any, control_id: str, control: rx.Component) -> rx.Component:
    """A label tied to its input (screen readers announce the field's name)."""
    return rx.vstack(rx.el.label(label, html_for=control_id, style={"font_size": "14px",
                                                                    "font_weight": "500"}),
                     control, spacing="1", align="stretch")


def issue_form() -> rx.Component:
    return rx.form(rx.vstack(
        rx.hstack(
            field(_("Customer name"), "office-name",
                  rx.input(name="name", id="office-name", required=True)),
            field(_("E-mail (the tickets are mailed here)"), "office-email",
                  rx.input(name="email", id="office-email", type="email", required=True)),
            field(_("What to do"), "office-kind", rx.el.select(
                rx.el.option(_("Comp: free tickets, mailed now"), value="comp"),
                rx.el.option(_("Reservation: hold the seats for the customer"),
                             value="reservation"),
                name="kind", id="office-kind")),
            spacing="3", wrap="wrap", align="end"),
        rx.hstack(
            rx.text(_("{n} seat(s) selected", n=S.selected_count), size="2",
                    id="office-selected"),
            rx.button(_("Issue"), type="submit", id="office-issue"), align="center"),
        align="stretch"), on_submit=S.issue, reset_on_submit=True)


def office_row(o: ObjectVar[dict[str, Any]]) -> rx.Component:
    oid = o["id"].to(int)
    return rx.table.row(
        rx.table.cell("#", o["id"].to(str)),
        rx.table.cell(o["kind"].to(str)),
        rx.table.cell(o["name"].to(str), rx.el.br(), rx.text(o["email"].to(str), size="1",
                                                             color="gray")),
        rx.table.cell(o["seats"].to(str)),
        rx.table.cell(o["total"].to(str)),
        rx.table.cell(rx.badge(o["status"].to(str))),
        rx.table.cell(rx.cond(o["open"].to(bool), rx.hstack(
            rx.button(_("Issue tickets"), size="1",
                      on_click=S.convert(oid),  # type: ignore[operator]
                      id="convert-" + o["id"].to(str)),
            rx.button(_("Release"), size="1", variant="soft", color_scheme="red",
                      on_click=S.release(oid),  # type: ignore[operator]
                      id="release-" + o["id"].to(str))))),
        id="office-order-" + o["id"].to(str), data_kind=o["raw_kind"].to(str),
        data_status=o["raw_status"].to(str),
    )


@admin_page(routes.ADMIN_BOX_OFFICE, N_("Box office"), on_load=(S.load,))
def admin_box_office_page() -> rx.Component:
    return rx.vstack(
        rx.link(_("Back to the event"), href="/admin/events/" + as_var(S.event_id).to(str)),
        rx.heading(_("Box office: {title}", title=S.title), size="6", id="office-title"),
        rx.text(_("Comps are free tickets for a named customer, mailed at once. A reservation "
                  "holds seats for a customer until you issue their tickets or release the "
                  "seats (at the latest until the event starts). Both are counted apart from "
                  "sales."), size="2", color="gray"),
        rx.text(_("Click free seats to select them."), size="1", color="gray"),
        layout_grid(S.seats, S.cols,
                    lambda s: S.toggle_seat(s["id"].to(int)),  # type: ignore[operator]
                    grid_id="office-seat-map"),
        issue_form(),
        rx.divider(),
        rx.heading(_("Comps and reservations"), size="4"),
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell(_("Order")),
                rx.table.column_header_cell(_("Kind")),
                rx.table.column_header_cell(_("Customer")),
                rx.table.column_header_cell(_("Seats")),
                rx.table.column_header_cell(_("Total")),
                rx.table.column_header_cell(_("Status")),
                rx.table.column_header_cell(_("Actions")))),
            rx.table.body(rx.foreach(S.rows, office_row)), id="office-orders", width="100%"),
        spacing="4", width="100%", align="stretch",
    )
