"""Events: the list and the new-event form."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app import routes
from ticketing_app.components.admin_layout import admin_page, labelled
from ticketing_app.components.i18n import _
from ticketing_app.i18n import N_
from ticketing_app.state.admin_events import CURRENCIES, TIER_SLOTS, AdminEventsState

# The first two tier slots come filled in (names in the organiser's language).
DEFAULT_TIERS = {1: (N_("Premium"), "90000", "#ef4444", "1-2"),
                 2: (N_("Standard"), "50000", "#3b82f6", "")}


def tier_inputs(i: int) -> rx.Component:
    name, price, colour, rows = DEFAULT_TIERS.get(i, ("", "", "#a855f7", ""))
    return rx.grid(
        labelled(_("Tier {n} name", n=i), rx.input(name=f"t{i}_name", id=f"t{i}-name",
                                                 default_value=_(name) if name else "")),
        labelled(_("Price"), rx.input(name=f"t{i}_price", id=f"t{i}-price",
                                   input_mode="decimal", default_value=price)),
        labelled(_("Colour"), rx.el.input(name=f"t{i}_color", id=f"t{i}-color", type="color",
                                    default_value=colour)),
        labelled(_("Rows"), rx.input(name=f"t{i}_rows", id=f"t{i}-rows", default_value=rows,
                               placeholder=_("A, B or 1, 2"))),
        labelled(_("Sections"), rx.input(name=f"t{i}_sections", id=f"t{i}-sections",
                                   placeholder=_("Balcony"))),
        columns="5", spacing="2", width="100%",
    )


def extra_tier_inputs(i: rx.Var[int]) -> rx.Component:
    """A tier slot added with "Add a tier" (its number is a Var)."""
    n = i.to(str)
    return rx.grid(
        labelled(_("Tier name"), rx.input(name="t" + n + "_name", id="t" + n + "-name")),
        labelled(_("Price"), rx.input(name="t" + n + "_price", id="t" + n + "-price",
                                   input_mode="decimal")),
        labelled(_("Colour"), rx.el.input(name="t" + n + "_color", id="t" + n + "-color",
                                       type="color", default_value="#a855f7")),
        labelled(_("Rows"), rx.input(name="t" + n + "_rows", id="t" + n + "-rows",
                                  placeholder=_("A, B or 1, 2"))),
        labelled(_("Sections"), rx.input(name="t" + n + "_sections", id="t" + n + "-sections",
                                      placeholder=_("Balcony"))),
        columns="5", spacing="2", width="100%",
    )


def event_form() -> rx.Component:
    s = AdminEventsState
    return rx.form(
        rx.vstack(
            rx.heading(_("New event"), size="4"),
            rx.grid(
                labelled(_("Title"), rx.input(name="title", id="event-title")),
                labelled(_("Date and time (UTC)"), rx.input(name="starts_at", id="event-starts",
                                                      type="datetime-local")),
                labelled(_("Venue"), rx.el.select(
                    rx.el.option(_("Choose a venue"), value=""),
                    rx.foreach(s.venue_options,
                               lambda v: rx.el.option(v[1], value=v[0])),
                    name="venue_id", id="event-venue")),
                labelled(_("Currency (prices are in its units)"), rx.el.select(
                    *[rx.el.option(c, value=c) for c in CURRENCIES],
                    name="currency", id="event-currency")),
                labelled(_("Hold time (s)"), rx.input(name="hold_seconds", id="event-hold",
                                                type="number", default_value="30")),
                labelled(_("Seats per buyer"), rx.input(name="max_seats", id="event-max-seats",
                                                  type="number", default_value="6")),
                rx.vstack(
                    rx.el.label(rx.el.input(type="checkbox", name="orphan_rule"),
                                " ", _("No single empty seats (orphan rule)")),
                    rx.el.label(rx.el.input(type="checkbox", name="waiting_room"),
                                " ", _("Waiting room")),
                    spacing="1"),
                columns="3", spacing="3", width="100%",
            ),
            labelled(_("Description"), rx.text_area(name="description", id="event-description")),
            rx.text(_("Price tiers: a tier with no rows or sections takes every other seat."),
                    size="1", color="gray"),
            *[tier_inputs(i) for i in range(1, TIER_SLOTS + 1)],
            rx.foreach(s.extra_tiers, extra_tier_inputs),
            rx.button(_("Add a tier"), type="button", variant="soft", size="1",
                      on_click=s.add_tier, id="add-tier"),
            rx.cond(s.form_error != "", rx.callout(s.form_error, color_scheme="red",
                                                   icon="triangle_alert", id="event-error")),
            rx.button(_("Create event (draft)"), type="submit", id="create-event"),
            spacing="3", width="100%",
        ),
        on_submit=AdminEventsState.create, reset_on_submit=False,
    )


def event_row(e: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(e["title"].to(str), href=e["url"].to(str))),
        rx.table.cell(e["when"].to(str)),
        rx.table.cell(rx.badge(e["statusText"].to(str))),
    )


def events_body() -> rx.Component:
    return rx.vstack(
        rx.heading(_("Events"), size="6"),
        rx.table.root(
            rx.table.header(rx.table.row(rx.table.column_header_cell(_("Event")),
                                         rx.table.column_header_cell(_("When")),
                                         rx.table.column_header_cell(_("Status")))),
            rx.table.body(rx.foreach(AdminEventsState.events, event_row)),
            width="100%", id="event-list"),
        rx.divider(),
        event_form(),
        spacing="4", width="100%",
    )


admin_events_page = admin_page(routes.ADMIN_EVENTS, "Events",  # i18n: ignore
                               on_load=(AdminEventsState.load,))(events_body)
admin_home_page = admin_page(routes.ADMIN, "Admin",  # i18n: ignore
                             on_load=(AdminEventsState.load,))(events_body)
