"""The admin area's frame: the page decorator (access control), navigation, a native HTML form
(for the login post that sets the HttpOnly cookie) and the layout grid shared by previews."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import reflex as rx
from reflex.vars import ObjectVar, Var
from reflex_components_core.el.elements.base import BaseHTML

from ticketing_app import routes
from ticketing_app.components.i18n import _, language_switcher
from ticketing_app.state.admin import AdminState


@dataclass(frozen=True)
class AdminPage:
    route: str
    title: str
    component: Callable[[], rx.Component]
    on_load: Sequence[Any] = field(default_factory=tuple)


ADMIN_PAGES: list[AdminPage] = []


def admin_page(route: str, title: str, on_load: Sequence[Any] = ()) -> Callable[
        [Callable[[], rx.Component]], Callable[[], rx.Component]]:
    """Registers an admin page behind the guard: its on_load starts with the session check,
    and nothing but a spinner renders until the check passed (data handlers check again)."""

    def decorate(body: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        def guarded() -> rx.Component:
            return admin_shell(rx.cond(AdminState.authed, body(),
                                       rx.center(rx.spinner(size="3"), padding="4em")))

        guarded.__name__ = body.__name__
        ADMIN_PAGES.append(AdminPage(route, title, guarded, (AdminState.guard, *on_load)))
        return guarded

    return decorate


class NativeForm(BaseHTML):
    """A plain <form> the browser submits itself (Reflex's forms always prevent that)."""

    tag = "form"
    action: rx.Var[str]
    method: rx.Var[str]


def nav_link(text: str | rx.Var[str], href: str) -> rx.Component:
    return rx.link(text, href=href, size="2", weight="medium")


def role_badge() -> rx.Component:
    """The signed-in account's role, in words."""
    return rx.badge(rx.cond(AdminState.admin_role == "door", _("Door staff"), _("Manager")),
                    variant="soft", id="admin-role",
                    data_role=AdminState.admin_role)


def field_label(text: str | rx.Var[str], for_id: str) -> rx.Component:
    """A visible label tied to its input (`for`), so a screen reader names the field."""
    return rx.el.label(text, html_for=for_id,
                       style={"font_size": "14px", "font_weight": "500"})


def admin_shell(content: rx.Component) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.heading(_("Ticketing admin"), size="4"),
            rx.cond(AdminState.admin_role == "door",
                     nav_link(_("Check-in"), routes.ADMIN_DOOR),
                     rx.hstack(
                         nav_link(_("Events"), routes.ADMIN_EVENTS),
                         nav_link(_("Orders"), routes.ADMIN_ORDERS),
                         nav_link(_("Venues"), routes.ADMIN_VENUES),
                         nav_link(_("Audit log"), routes.ADMIN_AUDIT),
                         spacing="5")),
            rx.spacer(),
            language_switcher(),
            rx.cond(AdminState.authed, rx.hstack(
                rx.text(AdminState.admin_name, size="2", color="gray"),
                role_badge(),
                NativeForm.create(
                    rx.button(_("Sign out"), type="submit", size="1", variant="soft"),
                    action="/api/admin/logout", method="post"),
                align="center")),
            padding="0.75em 1.5em", border_bottom="1px solid var(--gray-5)", align="center",
            spacing="5", wrap="wrap",
        ),
        rx.box(content, padding="1.5em", max_width="1200px", margin="0 auto"),
    )


def seat_cell(seat: ObjectVar[dict[str, Any]], on_click: Any = None) -> rx.Component:
    """One seat drawn where the buyer's map draws it (grid row r, column c)."""
    return rx.el.button(
        seat["c"].to(str),
        on_click=on_click,
        title=seat["title"].to(str),
        aria_label=seat["title"].to(str),
        data_status=seat["status"].to(str),
        data_seat=seat["id"].to(str),
        style={
            "grid_row": seat["r"].to(str), "grid_column": seat["c"].to(str),
            "background": seat["color"].to(str), "color": "white",
            "border": rx.cond(seat["selected"].to(bool), "3px solid #111827", "none"),
            "opacity": rx.cond(seat["dim"].to(bool), "0.45", "1"),
            "border_radius": "6px", "width": "30px", "height": "30px", "font_size": "11px",
            "cursor": "pointer", "padding": "0",
        },
    )


def layout_grid(seats: Any, cols: Any,
                on_click: Callable[[ObjectVar[dict[str, Any]]], Any] | None = None,
                grid_id: str = "layout-preview") -> rx.Component:
    return rx.box(
        rx.foreach(seats, lambda s: seat_cell(s, on_click(s) if on_click else None)),
        style={"display": "grid", "gap": "5px",
               "grid_template_columns": "repeat(" + cast(rx.Var[int], cols).to(str)
               + ", 30px)"},
        id=grid_id, overflow_x="auto", padding="0.5em",
    )


def labelled(label: str | Var[str], control: rx.Component, hint: str | Var[str] = ""
             ) -> rx.Component:
    """A field with its label: the control sits inside the <label>, which ties the two (a
    screen reader announces the label when the field has focus)."""
    parts = [rx.text(label, size="2", weight="medium"), control]
    if isinstance(hint, Var) or hint:
        parts.append(rx.text(hint, size="1", color="gray"))
    return rx.el.label(*parts, style={"display": "flex", "flex_direction": "column",
                                      "gap": "4px", "width": "100%"})


def as_var(value: Any) -> rx.Var[Any]:
    """A state var read on the class, typed as the Var it is (for mypy)."""
    return cast(rx.Var[Any], value)


def as_object(value: Any) -> ObjectVar[dict[str, Any]]:
    return cast(ObjectVar[dict[str, Any]], value)
