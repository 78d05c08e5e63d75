"""The venue editor: an existing venue's layout, previewed with the buyer's seat map, and the
tools that change it (rows, seats, sections, numbering, offsets, curves, seat features)."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app import routes
from ticketing_app.components.admin_layout import admin_page, as_var, labelled
from ticketing_app.components.i18n import _
from ticketing_app.components.seat_map import layout_map, layout_seat
from ticketing_app.state.admin_venue_editor import AdminVenueEditorState as S

SELECT = {"height": "24px", "font_size": "13px"}
CARD = {"border": "1px solid var(--gray-5)", "border_radius": "8px", "padding": "12px",
        "width": "100%"}


def field(label: Any, control: rx.Component) -> rx.Component:
    """A compact labelled field (the control inside its <label>), sized by its content."""
    return rx.el.label(rx.text(label, size="1", weight="medium"), control,
                       style={"display": "flex", "flex_direction": "column", "gap": "2px"})


def number_input(name: str, input_id: str, default: str, step: str = "1") -> rx.Component:
    return rx.input(name=name, id=input_id, type="number", step=step, default_value=default,
                    width="6em", size="1")


def tool_form(handler: Any, button: Any, button_id: str, *fields: rx.Component,
              hint: Any = None) -> rx.Component:
    notes = [rx.text(hint, size="1", color="gray")] if hint is not None else []
    return rx.form(
        rx.vstack(rx.hstack(*fields, rx.button(button, type="submit", id=button_id,
                                               size="1"),
                            align="end", spacing="2", wrap="wrap"),
                  *notes, spacing="1"),
        on_submit=handler, reset_on_submit=False,
    )


def row_option(o: ObjectVar[dict[str, str]]) -> rx.Component:
    return rx.el.option(o["label"].to(str), value=o["value"].to(str))


def row_tools() -> rx.Component:
    return rx.vstack(
        rx.heading(_("Row"), size="3"),
        labelled(_("Row to change (or click one of its seats)"),
                 rx.el.select(rx.foreach(S.row_options, row_option), value=S.current_row,
                              on_change=S.choose_row, id="edit-row")),
        tool_form(S.add_seats, _("Add seats"), "add-seats",
                  field(_("Seats"), number_input("count", "add-count", "1")),
                  field(_("Where"), rx.el.select(
                      rx.el.option(_("at the right end"), value="right"),
                      rx.el.option(_("at the left end"), value="left"),
                      name="side", id="add-side", style=SELECT))),
        tool_form(S.renumber, _("Renumber"), "renumber-row",
                  field(_("First number"), number_input("start", "renumber-start", "1")),
                  field(_("Direction"), rx.el.select(
                      rx.el.option(_("left to right"), value="ltr"),
                      rx.el.option(_("right to left"), value="rtl"),
                      name="direction", id="renumber-direction", style=SELECT)),
                  hint=_("Seat numbers only: nothing moves on the map.")),
        tool_form(S.offset, _("Shift row"), "offset-row",
                  field(_("Seat widths (negative: left)"),
                           number_input("amount", "offset-amount", "0.5", "0.1"))),
        tool_form(S.curve, _("Curve row"), "curve-row",
                  field(_("Ends toward the stage (seat widths)"),
                           number_input("amount", "curve-amount", "0.5", "0.1")),
                  hint=_("The seats lie on an arc; the middle stays. 0 makes the row "
                         "straight, a negative amount bends it away from the stage.")),
        spacing="3", style=CARD,
    )


def feature_button(feature: str, text: Any) -> rx.Component:
    return rx.button(text, type="button", size="1", variant="soft",
                     on_click=S.toggle_feature(feature),  # type: ignore[operator]
                     id=f"mark-{feature}")


def seat_tools() -> rx.Component:
    return rx.vstack(
        rx.heading(_("Selected seats"), size="3"),
        rx.text(S.selected_text, size="2", id="selected-count"),
        rx.hstack(
            rx.button(_("Remove selected"), type="button", color_scheme="red", size="2",
                      on_click=S.remove_selected, id="remove-selected"),
            rx.button(_("Clear selection"), type="button", variant="soft", size="2",
                      on_click=S.clear_selection, id="clear-selection"),
            spacing="2", wrap="wrap"),
        tool_form(S.move_selected, _("Move"), "move-selected",
                  field(_("Across"), number_input("dx", "move-dx", "0", "0.1")),
                  field(_("Down"), number_input("dy", "move-dy", "0", "0.1")),
                  hint=_("In seat widths; the seats keep their row and number.")),
        rx.hstack(feature_button("wheelchair", _("Wheelchair space")),
                  feature_button("companion", _("Companion seat")),
                  feature_button("restricted", _("Restricted view")),
                  feature_button("aisle", _("Aisle seat")),
                  spacing="2", wrap="wrap"),
        rx.text(_("A mark is set on every selected seat, or taken off when all have it."),
                size="1", color="gray"),
        spacing="3", style=CARD,
    )


def section_item(sec: ObjectVar[dict[str, Any]]) -> rx.Component:
    name = sec["name"].to(str)
    return rx.vstack(
        rx.text(name, " (", sec["seats"].to(str), ")", weight="medium",
                class_name="section-name"),
        rx.form(rx.hstack(
            rx.el.input(type="hidden", name="old", value=name),
            rx.input(name="new", default_value=name, aria_label=_("New name"), size="1",
                     width="10em"),
            rx.button(_("Rename"), type="submit", size="1", variant="soft"),
            rx.button(_("Remove section"), type="button", size="1", color_scheme="red",
                      variant="soft",
                      on_click=S.remove_section(name)),  # type: ignore[operator]
            spacing="2", align="center", wrap="wrap"),
            on_submit=S.rename_section, reset_on_submit=False),
        rx.form(rx.hstack(
            rx.el.input(type="hidden", name="section", value=name),
            rx.input(name="count", type="number", default_value="10", size="1", width="6em",
                     aria_label=_("Seats in the new row")),
            rx.button(_("Add a row"), type="submit", size="1", variant="soft"),
            spacing="2", align="center"),
            on_submit=S.add_row, reset_on_submit=False),
        spacing="1", id=sec["id"].to(str), data_section=name, width="100%",
    )


def section_tools() -> rx.Component:
    return rx.vstack(
        rx.heading(_("Sections"), size="3"),
        rx.foreach(S.section_list, section_item),
        rx.divider(),
        tool_form(S.add_section, _("Add a section"), "add-section",
                  field(_("Name"), rx.input(name="name", id="new-section-name",
                                            width="9em")),
                  field(_("Rows"), number_input("rows", "new-section-rows", "2")),
                  field(_("Seats per row"), number_input("seats", "new-section-seats", "8")),
                  hint=_("Drawn under the other sections; as many sections as the venue "
                         "has.")),
        spacing="3", style=CARD, id="section-list",
    )


def preview() -> rx.Component:
    return rx.vstack(
        rx.text(_("Preview: the seat map as buyers will see it. Click seats to select "
                  "them."), size="2", color="gray"),
        layout_map(as_var(S.bands), as_var(S.many),
                   lambda seat: layout_seat(
                       seat, S.toggle_seat(seat["id"].to(int))),  # type: ignore[operator]
                   "venue-preview"),
        spacing="2", width="100%", style=CARD,
    )


def save_bar() -> rx.Component:
    return rx.hstack(
        rx.button(_("Save layout"), on_click=S.save, color_scheme="green", id="save-layout",
                  disabled=S.unsaved == ""),
        rx.button(_("Discard changes"), on_click=S.discard, variant="soft",
                  id="discard-layout", disabled=S.unsaved == ""),
        rx.text(S.unsaved, size="2", id="unsaved-changes"),
        spacing="3", align="center", wrap="wrap",
    )


def editor() -> rx.Component:
    return rx.vstack(
        rx.link(_("All venues"), href=routes.ADMIN_VENUES, size="2"),
        rx.heading(S.venue_name, size="6", id="venue-title"),
        rx.text(S.summary, size="2", id="venue-summary"),
        rx.callout(S.events_notice, icon="info", id="venue-events-notice", size="1"),
        rx.cond(~S.editable,
                rx.callout(S.locked_notice, color_scheme="amber", icon="lock",
                           id="venue-locked")),
        rx.cond(S.problem != "",
                rx.callout(S.problem, color_scheme="red", icon="triangle_alert",
                           id="venue-editor-error")),
        rx.cond(S.editable, save_bar()),
        rx.box(
            preview(),
            rx.cond(S.editable,
                    rx.vstack(row_tools(), seat_tools(), section_tools(), spacing="3",
                              width="100%")),
            style={"display": "grid", "gap": "16px", "width": "100%",
                   "align_items": "start",
                   "grid_template_columns": rx.cond(S.editable, "minmax(0, 1fr) 380px",
                                                    "minmax(0, 1fr)")},
        ),
        spacing="3", width="100%", data_venue=as_var(S.venue_id).to(str), id="venue-editor",
    )


@admin_page(routes.ADMIN_VENUE, "Venue editor",  # i18n: ignore
            on_load=(S.load,))
def admin_venue_editor_page() -> rx.Component:
    return rx.cond(S.found, editor(),
                   rx.callout(_("Venue not found."), color_scheme="red", id="venue-missing"))
