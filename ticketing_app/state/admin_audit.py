"""The audit log: who changed what, when."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.i18n import format_timestamp
from ticketing_app.state.admin import AdminState, admin_only
from ticketing_app.state.admin_words import action_text, details_text

PAGE = 50


class AdminAuditState(AdminState):
    rows: list[dict[str, Any]] = []
    page: int = 0
    actor: str = ""
    target: str = ""

    @rx.event
    @admin_only
    async def load(self) -> None:
        await self._fetch()

    async def _fetch(self) -> None:
        rt = await get_runtime()
        entries = await rt.admin.audit_rows(PAGE, self.page * PAGE, self.actor, self.target)
        # Readable: the action in words (its code beside it, for searching), the details as
        # "field: value" pairs, never raw JSON.
        self.rows = [{"at": format_timestamp(a.created_at, "UTC"), "actor": a.actor,
                      "what": action_text(a.action), "action": a.action, "target": a.target,
                      "details": details_text(a.details)}
                     for a in entries]

    @rx.event
    @admin_only
    async def search(self, form: dict[str, Any]) -> None:
        self.actor = str(form.get("actor", "")).strip()[:80]
        self.target = str(form.get("target", "")).strip()[:120]
        self.page = 0
        await self._fetch()

    @rx.event
    @admin_only
    async def turn(self, delta: int) -> None:
        self.page = max(0, self.page + delta)
        await self._fetch()
