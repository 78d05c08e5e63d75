"""The admin login page: a native form posted to /api/admin/login, which sets the HttpOnly
session cookie and redirects into the admin area (Reflex state cannot set such a cookie)."""

from __future__ import annotations

import reflex as rx

from ticketing_app.components.admin_layout import NativeForm
from ticketing_app.components.i18n import _
from ticketing_app.i18n import N_, gettext
from ticketing_app.routes import safe_next
from ticketing_app.state.admin import OPEN, AdminState, needs

ERRORS = {"invalid": N_("Wrong username or password."),
          "rate": N_("Too many failed sign-ins; wait a minute and try again.")}


class AdminLoginState(AdminState):
    error: str = ""
    next_path: str = "/admin"

    @rx.event
    @needs(OPEN)
    def load(self) -> None:
        q = self.router.url.query_parameters
        code = str(q.get("error", ""))
        self.error = gettext(ERRORS[code]) if code in ERRORS else ""
        self.next_path = safe_next(str(q.get("next", "")))


def admin_login_page() -> rx.Component:
    return rx.center(
        rx.card(
            NativeForm.create(
                rx.vstack(
                    rx.heading(_("Admin sign-in"), size="6"),
                    rx.cond(AdminLoginState.error != "",
                            rx.callout(AdminLoginState.error, color_scheme="red",
                                       icon="triangle_alert", id="login-error")),
                    rx.el.label(_("Username"), html_for="username", style={"font_size": "14px"}),
                    rx.input(name="username", id="username", auto_complete="username",
                             required=True, width="100%"),
                    rx.el.label(_("Password"), html_for="password", style={"font_size": "14px"}),
                    rx.input(name="password", id="password", type="password",
                             auto_complete="current-password", required=True, width="100%"),
                    rx.el.input(type="hidden", name="next", value=AdminLoginState.next_path),
                    rx.button(_("Sign in"), type="submit", width="100%", id="sign-in"),
                    spacing="3", width="100%",
                ),
                action="/api/admin/login", method="post",
            ),
            width="22em",
        ),
        height="80vh",
    )
