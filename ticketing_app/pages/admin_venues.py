"""Venues: the list, the grid generator, the CSV/JSON import and the preview."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app import routes
from ticketing_app.components.admin_layout import admin_page, labelled, layout_grid
from ticketing_app.components.i18n import _
from ticketing_app.i18n import N_
from ticketing_app.state.admin_venues import SECTION_SLOTS, AdminVenuesState

# Translators: the example lines are CSV: keep the commas, translate the section name.
CSV_HINT = N_("section,row,seat per line (row as 1 or A), e.g.\nFloor,A,1\nFloor,A,2")
# The first section comes filled in (its name in the organiser's language).
FIRST_SECTION = N_("Floor")


def section_inputs(i: int) -> rx.Component:
    first = i == 1
    return rx.grid(
        labelled(_("Section {n}", n=i), rx.input(
            name=f"s{i}_name", id=f"s{i}-name",
            placeholder=_(FIRST_SECTION) if first else _("(optional)"),
            default_value=_(FIRST_SECTION) if first else "")),
        labelled(_("Rows"), rx.input(name=f"s{i}_rows", id=f"s{i}-rows", type="number",
                               default_value="8" if first else "")),
        labelled(_("Columns"), rx.input(name=f"s{i}_cols", id=f"s{i}-cols", type="number",
                                  default_value="12" if first else "")),
        labelled(_("Gaps"), rx.input(name=f"s{i}_gaps", id=f"s{i}-gaps", placeholder="A1, C7")),
        labelled(_("Aisle columns"), rx.input(name=f"s{i}_aisle_cols", id=f"s{i}-aisle-cols",
                                        placeholder="5")),
        labelled(_("Aisle rows"), rx.input(name=f"s{i}_aisle_rows", id=f"s{i}-aisle-rows",
                                     placeholder="D")),
        columns="6", spacing="2", width="100%",
    )


def extra_section_inputs(i: rx.Var[int]) -> rx.Component:
    """A section slot added with "Add a section" (its number is a Var)."""
    n = i.to(str)
    return rx.grid(
        labelled(_("Section"), rx.input(name="s" + n + "_name", id="s" + n + "-name",
                                     placeholder=_("(optional)"))),
        labelled(_("Rows"), rx.input(name="s" + n + "_rows", id="s" + n + "-rows",
                                  type="number")),
        labelled(_("Columns"), rx.input(name="s" + n + "_cols", id="s" + n + "-cols",
                                     type="number")),
        labelled(_("Gaps"), rx.input(name="s" + n + "_gaps", id="s" + n + "-gaps",
                                  placeholder="A1, C7")),
        labelled(_("Aisle columns"), rx.input(name="s" + n + "_aisle_cols",
                                           id="s" + n + "-aisle-cols", placeholder="5")),
        labelled(_("Aisle rows"), rx.input(name="s" + n + "_aisle_rows",
                                        id="s" + n + "-aisle-rows", placeholder="D")),
        columns="6", spacing="2", width="100%",
    )


def generator() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.hstack(labelled(_("Venue name"), rx.input(name="name", id="venue-name")),
                      labelled(_("Address"), rx.input(name="address", id="venue-address")),
                      width="100%"),
            *[section_inputs(i) for i in range(1, SECTION_SLOTS + 1)],
            rx.foreach(AdminVenuesState.extra_sections, extra_section_inputs),
            rx.button(_("Add a section"), type="button", variant="soft", size="1",
                      on_click=AdminVenuesState.add_section, id="add-section"),
            rx.text(_("Sections are drawn one under the other; gaps are seats left out "
                      "(pillars, wheelchair spaces), aisles whole empty columns or rows."),
                    size="1", color="gray"),
            rx.button(_("Preview layout"), type="submit", id="preview-grid"),
            spacing="3", width="100%",
        ),
        on_submit=AdminVenuesState.preview_grid, reset_on_submit=False,
    )


def importer() -> rx.Component:
    return rx.form(
        rx.vstack(
            labelled(_("Venue name"), rx.input(name="name", id="import-name")),
            labelled(_("Format"), rx.el.select(rx.el.option("CSV", value="csv"),
                                         rx.el.option("JSON", value="json"),
                                         name="format", id="import-format")),
            labelled(_("Layout"), rx.text_area(name="content", id="import-content", rows="8",
                                         placeholder=_(CSV_HINT)),
                  'JSON: {"seats": [{"section", "row", "seat"}]} or '
                  '{"sections": [{"name", "rows", "cols", "gaps", "aisleCols"}]}'),
            rx.button(_("Preview import"), type="submit", id="preview-import"),
            spacing="3", width="100%",
        ),
        on_submit=AdminVenuesState.preview_import, reset_on_submit=False,
    )


def preview() -> rx.Component:
    s = AdminVenuesState
    return rx.vstack(
        rx.cond(s.preview_error != "",
                rx.callout(s.preview_error, color_scheme="red", icon="triangle_alert",
                           id="venue-error")),
        rx.cond(s.preview_summary != "", rx.vstack(
            rx.text(_("Preview (as buyers will see it): {summary}", summary=s.preview_summary),
                    size="2",
                    id="preview-summary"),
            layout_grid(s.preview, s.preview_cols),
            rx.button(_("Create venue"), on_click=AdminVenuesState.create, id="create-venue",
                      color_scheme="green"),
            spacing="2")),
        width="100%",
    )


def venue_row(v: ObjectVar[dict[str, Any]]) -> rx.Component:
    vid = v["id"].to(str)
    return rx.table.row(
        rx.table.cell(rx.link(v["name"].to(str), href="/admin/venues/" + vid,
                              id="open-venue-" + vid, class_name="venue-link")),
        rx.table.cell(v["seats"].to(str)), rx.table.cell(v["sections"].to(str)),
        rx.table.cell(rx.link(rx.button(_("Open editor"), size="1", variant="soft"),
                              href="/admin/venues/" + vid, id="edit-venue-" + vid)))


@admin_page(routes.ADMIN_VENUES, "Venues", on_load=(AdminVenuesState.load,))  # i18n: ignore
def admin_venues_page() -> rx.Component:
    return rx.vstack(
        rx.heading(_("Venues"), size="6"),
        rx.tabs.root(
            rx.tabs.list(rx.tabs.trigger(_("Generate a grid"), value="grid"),
                         rx.tabs.trigger(_("Import CSV / JSON"), value="import")),
            rx.tabs.content(generator(), value="grid", padding_top="1em"),
            rx.tabs.content(importer(), value="import", padding_top="1em"),
            default_value="grid", width="100%",
        ),
        preview(),
        rx.table.root(
            rx.table.header(rx.table.row(rx.table.column_header_cell(_("Venue")),
                                         rx.table.column_header_cell(_("Seats")),
                                         rx.table.column_header_cell(_("Sections")),
                                         rx.table.column_header_cell(""))),
            rx.table.body(rx.foreach(AdminVenuesState.venues, venue_row)),
            width="100%", id="venue-list",
        ),
        spacing="4", width="100%",
    )
