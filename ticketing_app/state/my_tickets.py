"""My tickets: the buyer's e-tickets with a QR code each (server-rendered SVG), a PDF per
order, and where to mail confirmations."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain.errors import DomainError
from ticketing_app.i18n import N_, _
from ticketing_app.state.base import BuyerState

STATUS_TEXT = {"VALID": N_("Valid"), "CHECKED_IN": N_("Used (checked in)"),
               "REFUNDED": N_("Refunded"), "CANCELLED": N_("Cancelled")}


def status_text(status: str) -> str:
    """A ticket's status in the reader's language (an unknown code as it is)."""
    return _(STATUS_TEXT[status]) if status in STATUS_TEXT else status


class MyTicketsState(BuyerState):
    tickets: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    email: str = ""

    @rx.event
    async def load(self) -> None:
        rt = await get_runtime()
        buyer = self.buyer()
        tickets = await rt.buyer_tickets.for_buyer(buyer)
        # Rendered off the event loop (a page of ten tickets took ~100 ms of it).
        qrs = iter(await rt.ticket_docs.qr_svgs([t.code for t in tickets if t.usable]))
        self.tickets = [{
            "id": t.ticket_id, "order": t.order_id, "event": t.event_title,
            "when": t.starts_at_text, "seat": t.seat, "tier": t.tier, "price": t.price_text,
            "status": t.status, "status_text": status_text(t.status),
            "cancelled": t.event_status == "CANCELLED", "usable": t.usable, "code": t.code,
            "qr": next(qrs) if t.usable else "",
        } for t in tickets]
        seen: dict[int, dict[str, Any]] = {}
        for t in tickets:
            o = seen.setdefault(t.order_id, {"id": t.order_id, "event": t.event_title,
                                              "pdf": f"/api/tickets/pdf?orderId={t.order_id}",
                                              "usable": False})
            o["usable"] = o["usable"] or t.usable
        self.orders = list(seen.values())
        self.email = await rt.buyer_tickets.email_of(buyer)

    @rx.event
    async def save_email(self, form: dict[str, Any]) -> Any:
        rt = await get_runtime()
        try:
            self.email = await rt.buyer_tickets.set_email(self.buyer(), str(form.get("email",
                                                                                     "")))
        except DomainError as exc:
            return rx.toast.error(exc.message)
        return rx.toast.success(_("Saved: confirmations go to {email}", email=self.email)
                                if self.email else _("Saved: no e-mails."))
