"""The audit log page."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from ticketing_app import routes
from ticketing_app.components.admin_layout import admin_page
from ticketing_app.components.i18n import _
from ticketing_app.state.admin_audit import AdminAuditState as A


def row(r: ObjectVar[dict[str, Any]]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r["at"].to(str)), rx.table.cell(r["actor"].to(str)),
        rx.table.cell(rx.vstack(rx.text(r["what"].to(str), size="2"),
                                rx.text(r["action"].to(str), size="1", color="gray"),
                                spacing="0")),
        rx.table.cell(r["target"].to(str)), rx.table.cell(r["details"].to(str)))


@admin_page(routes.ADMIN_AUDIT, "Audit log", on_load=(A.load,))  # i18n: ignore
def admin_audit_page() -> rx.Component:
    return rx.vstack(
        rx.heading(_("Audit log"), size="6"),
        rx.form(rx.hstack(rx.input(name="actor", placeholder=_("Who (admin)"),
                                   aria_label=_("Who (admin)")),
                          rx.input(name="target", placeholder=_("What (e.g. event:3)"),
                                   aria_label=_("What (e.g. event:3)")),
                          rx.button(_("Filter"), type="submit")),
                on_submit=A.search, reset_on_submit=False),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           (_("When (UTC)"), _("Who"), _("Action"),
                                            _("Target"), _("Details"))])),
            rx.table.body(rx.foreach(A.rows, row)), width="100%", id="audit-table"),
        rx.hstack(rx.button(_("Newer"), on_click=A.turn(-1),  # type: ignore[operator]
                            variant="soft",
                            disabled=A.page == 0),
                  rx.button(_("Older"), on_click=A.turn(1),  # type: ignore[operator]
                            variant="soft")),
        spacing="3", width="100%",
    )
