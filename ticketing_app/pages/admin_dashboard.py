"""The live sales dashboard of one event."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app import routes
from ticketing_app.components.admin_layout import admin_page, as_var
from ticketing_app.components.i18n import _
from ticketing_app.state.admin_dashboard import AdminDashboardState as D


def tier_row(t: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(t["tier"].to(str)),
        rx.table.cell(t["sold"].to(str), " / ", t["capacity"].to(str)),
        rx.table.cell(t["percent"].to(str)),
        class_name="tier-sales")


def tier_table() -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(
            rx.table.column_header_cell(_("Tier")),
            rx.table.column_header_cell(_("Sold / seats")),
            rx.table.column_header_cell(_("Sold %")))),
        rx.table.body(rx.foreach(D.tiers, tier_row)), id="dash-tiers", max_width="32em")


def stat(label: str | rx.Var[str], key: str) -> rx.Component:
    return rx.card(rx.vstack(
        rx.text(label, size="1", color="gray"),
        rx.text(D.stats[key].to(str), size="6", weight="bold", id=f"stat-{key}"),
        spacing="1"), min_width="9em")


def sales_chart() -> rx.Component:
    return rx.recharts.composed_chart(
        rx.recharts.bar(data_key="sold", name=_("Seats sold per minute"), fill="#10b981",
                        max_bar_size=36),
        rx.recharts.line(data_key="total", name=_("Seats sold (cumulative)"), stroke="#2563eb"),
        rx.recharts.x_axis(data_key="minute"),
        rx.recharts.y_axis(),
        rx.recharts.legend(),
        rx.recharts.graphing_tooltip(),
        data=D.timeline, width="100%", height=260,
    )


@admin_page(routes.ADMIN_DASHBOARD, "Dashboard", on_load=(D.load,))  # i18n: ignore
def admin_dashboard_page() -> rx.Component:
    return rx.vstack(
        rx.link(_("Back to the event"), href="/admin/events/" + as_var(D.event_id).to(str),
                size="2"),
        rx.hstack(rx.heading(D.title, size="6"), rx.badge(D.status, id="dash-status"),
                  rx.text(_("updated {time}", time=D.updated), size="1", color="gray",
                          id="dash-updated"),
                  align="center"),
        rx.heading(_("Seats right now"), size="3"),
        rx.hstack(stat(_("Available"), "seats_available"), stat(_("Held"), "seats_held"),
                  stat(_("Sold"), "seats_sold"), stat(_("Blocked"), "seats_blocked"), wrap="wrap"),
        rx.heading(_("Sales by tier"), size="3"),
        tier_table(),
        rx.heading(_("Orders and money"), size="3"),
        rx.hstack(stat(_("Awaiting payment"), "orders_awaiting"),
                  stat(_("Confirmed"), "orders_confirmed"),
                  stat(_("Cancelled"), "orders_cancelled"),
                  stat(_("Refunded"), "orders_refunded"), stat(_("Revenue"), "revenue_text"),
                  stat(_("Refunded amount"), "refunded_text"),
                  stat(_("Payment success"), "payment_success_rate"), wrap="wrap"),
        rx.heading(_("Activity"), size="3"),
        rx.hstack(stat(_("Holds this minute"), "holds_last_minute"),
                  stat(_("Holds / min (10 min avg)"), "holds_per_minute_avg"),
                  stat(_("Updates not yet counted"), "outbox_pending"),
                  stat(_("Figures behind by (s)"), "outbox_lag_s"),
                  stat(_("Checked in"), "checkins"), stat(_("Valid tickets"), "tickets"),
                  wrap="wrap"),
        rx.heading(_("Sales over time"), size="3"),
        sales_chart(),
        spacing="3", width="100%", align="stretch",
    )
