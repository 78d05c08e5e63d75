"""Every admin page, registered behind the guard, plus the login page (the only one open)."""

from __future__ import annotations

import reflex as rx

from ticketing_app import routes
from ticketing_app.components.admin_layout import ADMIN_PAGES
from ticketing_app.pages import (  # noqa: F401  (each module registers its pages)
    admin_audit,
    admin_box_office,
    admin_checkin,
    admin_dashboard,
    admin_door,
    admin_event,
    admin_events,
    admin_orders,
    admin_report,
    admin_venue_editor,
    admin_venues,
)
from ticketing_app.pages.admin_login import AdminLoginState, admin_login_page

OPEN_ADMIN_ROUTES = frozenset({routes.ADMIN_LOGIN})


def register_admin_pages(app: rx.App) -> None:
    app.add_page(admin_login_page, route=routes.ADMIN_LOGIN, title="Admin sign-in",  # i18n: ignore
                 on_load=AdminLoginState.load)
    for page in ADMIN_PAGES:
        app.add_page(page.component, route=page.route, title=f"{page.title} - Admin",
                     on_load=list(page.on_load))
