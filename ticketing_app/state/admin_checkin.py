"""Check-in at the door: manual code entry always, camera scanning where the browser can
(the scanner script fills the same form). Each result says admitted, or why not."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain.errors import DomainError
from ticketing_app.state.admin import AdminState, admin_only, path_id


class AdminCheckinState(AdminState):
    event_id: int = 0
    title: str = ""
    gate: str = ""
    result: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    counts: str = ""

    @rx.event
    @admin_only
    async def load(self) -> None:
        rt = await get_runtime()
        self.event_id = path_id(self.router.url.path)
        self.title = (await rt.catalog.get_event(self.event_id, fresh=True)).title
        self.result = {}
        await self._counts()

    async def _counts(self) -> None:
        rt = await get_runtime()
        c = await rt.checkins.counts(self.event_id)
        self.counts = f"{c.get('CHECKED_IN', 0)} in of {c.get('CHECKED_IN', 0) + c.get('VALID', 0)}"

    @rx.event
    def set_gate(self, value: str) -> None:
        self.gate = value.strip()[:80]

    @rx.event
    @admin_only
    async def check(self, form: dict[str, Any]) -> None:
        rt = await get_runtime()
        code = str(form.get("code", "")).strip()
        if not code:
            return
        try:
            a = await rt.checkins.check_in(self._actor, code, self.gate, self.event_id)
            self.result = {"ok": True, "headline": "ADMIT", "text": f"{a.seat} - ticket "
                           f"#{a.ticket_id}, order #{a.order_id}"}
        except DomainError as exc:
            self.result = {"ok": False, "headline": "DO NOT ADMIT",
                           "text": exc.message, "code": exc.code}
        self.history = [{**self.result, "ticket": code[-10:]}, *self.history][:10]
        await self._counts()
