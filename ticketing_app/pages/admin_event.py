"""One event's admin page: sales control, seat map, tiers, settings, refunds, cancellation."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app import routes
from ticketing_app.components.admin_layout import (
    admin_page,
    as_object,
    as_var,
    labelled,
    layout_grid,
)
from ticketing_app.components.i18n import _
from ticketing_app.domain.pow import MAX_BITS
from ticketing_app.domain.sale_settings import WEB_HOLD_CEILING_S
from ticketing_app.state.admin_event import AdminEventState as S


def sales_controls() -> rx.Component:
    return rx.hstack(
        rx.cond(S.status != "ON_SALE", rx.cond(S.status != "CANCELLED", rx.button(
            _("Open sales"), on_click=S.set_status("ON_SALE"),  # type: ignore[operator]
            color_scheme="green",
            id="open-sales"))),
        rx.cond(S.status == "ON_SALE", rx.button(
            _("Close sales"), on_click=S.set_status("CLOSED"),  # type: ignore[operator]
            color_scheme="orange",
            id="close-sales")),
        rx.button(_("Release all holds"), on_click=S.release_holds, variant="soft",
                  id="release-holds"),
        rx.link(rx.button(_("Live dashboard"), variant="outline"),
                href="/admin/events/" + as_var(S.event_id).to(str) + "/dashboard",
                id="to-dashboard"),
        rx.link(rx.button(_("Check-in"), variant="outline"),
                href="/admin/events/" + as_var(S.event_id).to(str) + "/checkin",
                id="to-checkin"),
        rx.link(rx.button(_("Report and exports"), variant="outline"),
                href="/admin/events/" + as_var(S.event_id).to(str) + "/report",
                id="to-report"),
        rx.link(rx.button(_("Box office"), variant="outline"),
                href="/admin/events/" + as_var(S.event_id).to(str) + "/box-office",
                id="to-box-office"),
        spacing="2", wrap="wrap",
    )


def seat_map() -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.heading(_("Seats"), size="4"), rx.text(S.counts, size="2", color="gray",
                                                       id="seat-counts"), align="center"),
        rx.text(_("Click seats to select them, then block (production holds), unblock or "
                  "move them to a tier."), size="1", color="gray"),
        layout_grid(S.seats, S.cols,
                    lambda s: S.toggle_seat(s["id"].to(int)),  # type: ignore[operator]
                    grid_id="admin-seat-map"),
        rx.hstack(
            rx.button(_("Block selected"),
                      on_click=S.block_selected(True), size="1",  # type: ignore[operator]
                      id="block-selected"),
            rx.button(_("Unblock selected"),
                      on_click=S.block_selected(False), size="1",  # type: ignore[operator]
                      variant="soft", id="unblock-selected"),
            rx.button(_("Clear selection"), on_click=S.clear_selection, size="1",
                      variant="ghost"),
            rx.form(rx.hstack(
                rx.el.select(rx.foreach(S.tiers, lambda t: rx.el.option(
                    t["name"].to(str), value=t["id"].to(str))), name="tier_id",
                    aria_label=_("Tier")),
                rx.input(name="section", placeholder=_("or whole section"), size="1",
                         aria_label=_("Or a whole section")),
                rx.button(_("Move to tier"), type="submit", size="1", variant="outline"),
                align="center"), on_submit=S.assign_tier, reset_on_submit=True),
            spacing="2", wrap="wrap", align="center",
        ),
        width="100%", align="stretch",
    )


def tier_form(t: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.form(rx.hstack(
        rx.box(width="14px", height="14px", background=t["color"].to(str), border_radius="3px"),
        rx.el.input(type="hidden", name="tier_id", value=t["id"].to(str)),
        rx.input(name="name", default_value=t["name"].to(str), size="1", width="10em",
                 aria_label=_("Tier name")),
        rx.input(name="price", default_value=t["price"].to(str), size="1",
                 input_mode="decimal", width="9em", aria_label=_("Price")),
        rx.el.input(name="color", type="color", default_value=t["color"].to(str),
                    aria_label=_("Colour")),
        rx.text(_("{n} seats", n=t["seats"].to(str)), size="1", color="gray"),
        rx.cond(S.status != "CANCELLED",
                rx.button(_("Save"), type="submit", size="1", variant="soft")),
        align="center"), on_submit=S.save_tier, reset_on_submit=False)


def tiers() -> rx.Component:
    return rx.vstack(
        rx.heading(_("Price tiers"), size="4"),
        rx.foreach(S.tiers, tier_form),
        rx.cond(S.status != "CANCELLED", rx.form(rx.hstack(
            rx.input(name="name", placeholder=_("New tier"), size="1", width="10em",
                     aria_label=_("New tier's name")),
            rx.input(name="price", placeholder=_("Price"), size="1", input_mode="decimal",
                     width="9em", aria_label=_("New tier's price")),
            rx.el.input(name="color", type="color", default_value="#a855f7",
                        aria_label=_("New tier's colour")),
            rx.button(_("Add tier"), type="submit", size="1", id="add-tier"), align="center"),
            on_submit=S.save_tier, reset_on_submit=True)),
        align="stretch",
    )


def settings_form() -> rx.Component:
    e = S.edit
    return rx.form(rx.vstack(
        rx.heading(_("Settings"), size="4"),
        rx.grid(
            labelled(_("Title"), rx.input(name="title", default_value=e["title"].to(str))),
            labelled(_("Date and time (UTC)"), rx.input(name="starts_at", type="datetime-local",
                                                  default_value=e["starts_at"].to(str))),
            labelled(_("Hold time (s)"), rx.input(name="hold", type="number",
                                            default_value=e["hold"].to(str))),
            labelled(_("Seats per buyer"), rx.input(name="max_seats", type="number",
                                              default_value=e["max_seats"].to(str))),
            labelled(_("Web app hold (s)"),
                     rx.input(name="web_hold", type="number", min=1, max=WEB_HOLD_CEILING_S,
                              default_value=e["web_hold"].to(str), id="web-hold")),
            labelled(_("Web app hold in all, with extensions (s)"),
                     rx.input(name="web_hold_total", type="number", min=1,
                              max=WEB_HOLD_CEILING_S, default_value=e["web_hold_total"].to(str),
                              id="web-hold-total"),
                     _("At most {n} s (30 minutes). The REST API keeps the hold time above.",
                       n=WEB_HOLD_CEILING_S)),
            labelled(_("Waiting-room bot check (bits, 0 = off)"),
                     rx.input(name="pow_bits", type="number", min=0, max=MAX_BITS,
                              default_value=e["pow_bits"].to(str), id="pow-bits")),
            columns="4", spacing="2", width="100%"),
        labelled(_("Description"), rx.text_area(name="description",
                                          default_value=e["description"].to(str))),
        rx.hstack(
            rx.el.label(rx.el.input(type="checkbox", name="orphan_rule",
                                    default_checked=e["orphan"].to(bool)), " ",
                        _("Orphan rule")),
            rx.el.label(rx.el.input(type="checkbox", name="waiting_room",
                                    default_checked=e["waiting"].to(bool)), " ",
                        _("Waiting room")),
            rx.cond(S.status != "CANCELLED",
                    rx.button(_("Save settings"), type="submit", size="2", id="save-settings")),
            spacing="4", align="center"),
        align="stretch"), on_submit=S.save_settings, reset_on_submit=False, key=S.event_id)


def order_row(o: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.hstack(
        rx.link("#", o["id"].to(str), href=o["href"].to(str), weight="bold", size="2",
                class_name="order-link"),
        rx.badge(o["status"].to(str)),
        rx.text(o["total"].to(str), size="2"),
        rx.text(o["seats"].to(str), size="1", color="gray"),
        align="center", wrap="wrap", spacing="3", id="order-" + o["id"].to(str))


def orders() -> rx.Component:
    return rx.vstack(
        rx.heading(_("Orders"), size="4"),
        rx.text(_("Open an order to see its tickets and history, resend its tickets or "
                  "refund it."), size="1", color="gray"),
        rx.form(rx.hstack(rx.input(name="order_id", placeholder=_("Order #"), size="1",
                                   aria_label=_("Order number")),
                          rx.button(_("Find"), type="submit", size="1", variant="soft")),
                on_submit=S.find_orders, reset_on_submit=False),
        rx.foreach(S.orders, order_row),
        align="stretch",
    )


def cancellation() -> rx.Component:
    job = as_object(S.job)
    return rx.vstack(
        rx.heading(_("Cancel the event"), size="4"),
        rx.cond(job.contains("id"), rx.vstack(
            rx.text(_("Refunding every confirmed order: {done} of {total} ({status})",
                      done=job["done"].to(str), total=job["total"].to(str),
                      status=job["status"].to(str)), id="job-progress"),
            rx.progress(value=job["percent"].to(int), max=100),
            rx.text(_("Reason: {reason}", reason=job["message"].to(str)), size="1", color="gray"),
            align="stretch"),
            rx.form(rx.vstack(
                rx.text(_("Sales close and holds end at once; a background job refunds every "
                          "confirmed order (it survives restarts). Buyers see the "
                          "cancellation."), size="1", color="gray"),
                rx.input(name="reason", placeholder=_("Reason shown to buyers"), id="cancel-reason",
                         aria_label=_("Reason shown to buyers")),
                rx.input(name="confirm", placeholder=_("Type the event title to confirm"),
                         id="cancel-confirm", aria_label=_("The event's title, to confirm")),
                rx.button(_("Cancel event and refund everyone"), type="submit",
                          color_scheme="red", id="cancel-event"),
                align="stretch"), on_submit=S.cancel_event, reset_on_submit=False)),
        align="stretch", id="cancellation",
    )


@admin_page(routes.ADMIN_EVENT, "Event", on_load=(S.load,))  # i18n: ignore
def admin_event_page() -> rx.Component:
    return rx.vstack(
        rx.link(_("All events"), href=routes.ADMIN_EVENTS, size="2"),
        rx.hstack(rx.heading(S.title, size="6", id="event-title"),
                  rx.badge(S.status, size="2", id="event-status"), align="center"),
        rx.text(S.when, color="gray"),
        sales_controls(),
        seat_map(),
        rx.divider(), tiers(),
        rx.divider(), settings_form(),
        rx.divider(), orders(),
        rx.divider(), cancellation(),
        spacing="4", width="100%", align="stretch",
    )
