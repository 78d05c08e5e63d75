"""The live sales dashboard of one event."""

from __future__ import annotations

import reflex as rx

from ticketing_app import routes
from ticketing_app.components.admin_layout import admin_page, as_var
from ticketing_app.state.admin_dashboard import AdminDashboardState as D


def stat(label: str, key: str) -> rx.Component:
    return rx.card(rx.vstack(
        rx.text(label, size="1", color="gray"),
        rx.text(D.stats[key].to(str), size="6", weight="bold", id=f"stat-{key}"),
        spacing="1"), min_width="9em")


def sales_chart() -> rx.Component:
    return rx.recharts.composed_chart(
        rx.recharts.bar(data_key="sold", name="Seats sold per minute", fill="#10b981"),
        rx.recharts.line(data_key="total", name="Seats sold (cumulative)", stroke="#2563eb"),
        rx.recharts.x_axis(data_key="minute"),
        rx.recharts.y_axis(),
        rx.recharts.legend(),
        rx.recharts.graphing_tooltip(),
        data=D.timeline, width="100%", height=260,
    )


@admin_page(routes.ADMIN_DASHBOARD, "Dashboard", on_load=(D.load,))
def admin_dashboard_page() -> rx.Component:
    return rx.vstack(
        rx.link("Back to the event", href="/admin/events/" + as_var(D.event_id).to(str),
                size="2"),
        rx.hstack(rx.heading(D.title, size="6"), rx.badge(D.status, id="dash-status"),
                  rx.text("updated ", D.updated, size="1", color="gray", id="dash-updated"),
                  align="center"),
        rx.heading("Seats (live, Redis)", size="3"),
        rx.hstack(stat("Available", "seats_available"), stat("Held", "seats_held"),
                  stat("Sold", "seats_sold"), stat("Blocked", "seats_blocked"), wrap="wrap"),
        rx.heading("Orders and money (Kafka projection)", size="3"),
        rx.hstack(stat("Awaiting payment", "orders_awaiting"),
                  stat("Confirmed", "orders_confirmed"), stat("Cancelled", "orders_cancelled"),
                  stat("Refunded", "orders_refunded"), stat("Revenue", "revenue_text"),
                  stat("Refunded amount", "refunded_text"),
                  stat("Payment success", "payment_success_rate"), wrap="wrap"),
        rx.heading("Flow", size="3"),
        rx.hstack(stat("Holds this minute", "holds_last_minute"),
                  stat("Holds / min (10 min avg)", "holds_per_minute_avg"),
                  stat("Outbox backlog", "outbox_pending"), stat("Outbox lag (s)",
                                                                 "outbox_lag_s"),
                  stat("Checked in", "checkins"), stat("Valid tickets", "tickets"),
                  wrap="wrap"),
        rx.heading("Sales over time", size="3"),
        sales_chart(),
        spacing="3", width="100%", align="stretch",
    )
