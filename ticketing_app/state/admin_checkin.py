"""Check-in at the door: manual code entry always, camera scanning wherever a camera opens
(the scanner script, assets/checkin_scanner.js, reads a code with the browser's
BarcodeDetector or through `POST /api/checkins/scan` and submits it through the same form).
Each result says admitted, or why not."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain.errors import DomainError
from ticketing_app.domain.roles import Capability
from ticketing_app.i18n import _
from ticketing_app.state.admin import AdminState, admin_only, needs, path_id
from ticketing_app.state.admin_words import status_text


class AdminCheckinState(AdminState):
    event_id: int = 0
    title: str = ""
    gate: str = ""
    result: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    counts: str = ""
    # The search by name at the door (a code that will not scan, a phone left at home).
    found: list[dict[str, Any]] = []
    searched: str = ""

    @rx.event
    @needs(Capability.CHECK_IN)
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
        checked = c.get("CHECKED_IN", 0)
        # Translators: tickets checked in so far, of all valid tickets of the event.
        self.counts = _("{checked} in of {total}", checked=checked,
                        total=checked + c.get("VALID", 0))

    @rx.event
    @needs(Capability.CHECK_IN)
    def set_gate(self, value: str) -> None:
        self.gate = value.strip()[:80]

    @rx.event
    @needs(Capability.CHECK_IN)
    @admin_only
    async def check(self, form: dict[str, Any]) -> None:
        await self._admit(str(form.get("code", "")).strip())

    @rx.event
    @needs(Capability.CHECK_IN)
    @admin_only
    async def search_name(self, form: dict[str, Any]) -> None:
        """Tickets of this event by buyer name or e-mail, order number or seat."""
        rt = await get_runtime()
        self.searched = str(form.get("q", "")).strip()[:200]
        hits = await rt.box_office.door_search(self.event_id, self.searched)
        self.found = [{"ticket_id": h.ticket_id, "seat": h.seat, "tier": h.tier,
                       "name": h.name or h.email or "-", "order": h.order_id,
                       "status": status_text(h.status), "valid": h.status == "VALID"}
                      for h in hits]

    @rx.event
    @needs(Capability.CHECK_IN)
    @admin_only
    async def check_ticket(self, ticket_id: int) -> None:
        """Admit a ticket found by name, through the same check as a scanned code."""
        rt = await get_runtime()
        code = await rt.box_office.ticket_code(self.event_id, int(ticket_id))
        await self._admit(code)
        self.found = [{**f, "valid": False, "status": status_text("CHECKED_IN")}
                      if f["ticket_id"] == int(ticket_id) and self.result.get("ok") else f
                      for f in self.found]

    async def _admit(self, code: str) -> None:
        rt = await get_runtime()
        if not code:
            return
        try:
            a = await rt.checkins.check_in(self._actor, code, self.gate, self.event_id)
            self.result = {"ok": True, "headline": _("ADMIT"),
                           "text": _("{seat} - ticket #{ticket}, order #{order}",
                                     seat=a.seat, ticket=a.ticket_id, order=a.order_id)}
        except DomainError as exc:
            self.result = {"ok": False, "headline": _("DO NOT ADMIT"),
                           "text": exc.message, "code": exc.code}
        self.history = [{**self.result, "ticket": code[-10:]}, *self.history][:10]
        await self._counts()
