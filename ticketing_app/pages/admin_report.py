"""An event's report page: settlement, sales by tier and by day, and the CSV exports."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app import routes
from ticketing_app.components.admin_layout import admin_page, as_var
from ticketing_app.components.i18n import _
from ticketing_app.state.admin_report import AdminReportState as R

TIER_KEYS = ("tier", "sold", "capacity", "percent", "refunded", "gross", "refunds", "net")
DAY_KEYS = ("day", "orders", "tickets", "gross", "refunds", "net")


def cells(keys: tuple[str, ...]) -> Any:
    def row(r: ObjectVar[dict[str, Any]]) -> rx.Component:
        return rx.table.row(*[rx.table.cell(r[k].to(str)) for k in keys])

    return row


def figure(label: rx.Var[str], value: Any, fid: str) -> rx.Component:
    return rx.card(rx.vstack(rx.text(label, size="1", color="gray"),
                             rx.text(value, size="6", weight="bold", id=fid), spacing="1"))


def export_link(label: rx.Var[str], name: str) -> rx.Component:
    href = "/api/admin/events/" + as_var(R.event_id).to(str) + f"/exports/{name}"
    # A plain <a download> (no button inside: a link holds no other control): the browser
    # fetches the streamed CSV with the admin's cookie. rx.el.a is React Router's Link, which
    # turns a click into a client-side route change (to the 404 page, no download) unless
    # told to leave the navigation to the browser (reload_document).
    return rx.el.a(label, href=href, download=name, reload_document=True,
                   id=f"export-{name.split('.')[0]}",
                   style={"padding": "6px 12px", "border": "1px solid var(--accent-8)",
                          "border_radius": "6px", "color": "var(--accent-11)",
                          "font_size": "14px", "text_decoration": "none"})


@admin_page(routes.ADMIN_REPORT, "Report", on_load=(R.load,))  # i18n: ignore
def admin_report_page() -> rx.Component:
    return rx.vstack(
        rx.link(_("Back to the event"), href="/admin/events/" + as_var(R.event_id).to(str),
                size="2"),
        rx.heading(_("Report: {title}", title=R.title), size="6", id="report-title"),
        rx.heading(_("Settlement"), size="4"),
        rx.hstack(figure(_("Gross sales"), R.gross, "report-gross"),
                  figure(_("Refunds"), R.refunds, "report-refunds"),
                  figure(_("Net"), R.net, "report-net"),
                  figure(_("Tickets sold / seats"), R.sold, "report-sold"),
                  spacing="3", wrap="wrap"),
        rx.heading(_("Sales by tier"), size="4"),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                _("Tier"), _("Sold"), _("Seats"), _("Sold %"), _("Refunded tickets"),
                _("Gross"), _("Refunds"), _("Net"))])),
            rx.table.body(rx.foreach(R.tiers, cells(TIER_KEYS))), width="100%",
            id="report-tiers"),
        rx.heading(_("Sales by day"), size="4"),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                _("Day"), _("Orders"), _("Tickets"), _("Gross"), _("Refunds"), _("Net"))])),
            rx.table.body(rx.foreach(R.days, cells(DAY_KEYS))), width="100%",
            id="report-days"),
        rx.heading(_("Exports (CSV)"), size="4"),
        rx.hstack(export_link(_("Orders"), "orders.csv"),
                  export_link(_("Attendees (door list)"), "attendees.csv"),
                  export_link(_("Sales by tier"), "sales-by-tier.csv"),
                  export_link(_("Sales by day"), "sales-by-day.csv"), spacing="2", wrap="wrap"),
        spacing="3", width="100%", align="stretch",
    )
