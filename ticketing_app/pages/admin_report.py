"""An event's report page: settlement, sales by tier and by day, and the exports (each as CSV
and as XLSX)."""

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


def export_link(text: str, name: str, label: rx.Var[str], fid: str) -> rx.Component:
    href = "/api/admin/events/" + as_var(R.event_id).to(str) + f"/exports/{name}"
    # A plain <a download> (no button inside: a link holds no other control): the browser
    # fetches the export with the admin's cookie. `rx.el.a` is React Router's Link in Reflex
    # 0.10, whose click is a client-side route change that downloads nothing;
    # `reload_document` leaves the click to the browser.
    return rx.el.a(text, href=href, download=name, id=fid, aria_label=label,
                   reload_document=True,
                   style={"padding": "6px 12px", "border": "1px solid var(--accent-8)",
                          "border_radius": "6px", "color": "var(--accent-11)",
                          "font_size": "14px", "text_decoration": "none"})


def export_row(label: rx.Var[str], name: str) -> rx.Component:
    """One export in both formats: `#export-<name>` (CSV) and `#export-<name>-xlsx`."""
    return rx.hstack(
        rx.text(label, size="2", min_width="12em"),
        export_link("CSV", f"{name}.csv", _("{export} as CSV", export=label),
                    f"export-{name}"),
        export_link("XLSX", f"{name}.xlsx", _("{export} as XLSX", export=label),
                    f"export-{name}-xlsx"),
        spacing="2", align="center")


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
        rx.heading(_("Exports"), size="4"),
        rx.text(_("The same columns in both formats: CSV for any program, XLSX for a "
                  "spreadsheet (numbers stay numbers)."), size="2", color="gray"),
        export_row(_("Orders"), "orders"),
        export_row(_("Attendees (door list)"), "attendees"),
        export_row(_("Sales by tier"), "sales-by-tier"),
        export_row(_("Sales by day"), "sales-by-day"),
        spacing="3", width="100%", align="stretch",
    )
