"""The page a confirmation mail's link opens, in any browser (no cookie needed): the order's
tickets with their QR codes and PDF, and the buyer's personal data to download or erase.
Thin over OrderAccessService; "find my order" mails the link again."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain import errors
from ticketing_app.i18n import N_, _
from ticketing_app.state.base import BuyerState

STATUS_TEXT = {"VALID": N_("Valid"), "CHECKED_IN": N_("Used (checked in)"),
               "REFUNDED": N_("Refunded"), "CANCELLED": N_("Cancelled")}
ORDER_STATUS_TEXT = {"CONFIRMED": N_("Paid"), "REFUNDED": N_("Refunded"),
                     "CANCELLED": N_("Cancelled"), "CREATED": N_("Awaiting payment")}


def token_from_path(path: str) -> str:
    parts = [p for p in path.split("?")[0].split("/") if p]
    return parts[-1] if parts else ""


class OrderLinkState(BuyerState):
    # ok | expired | invalid | missing
    outcome: str = ""
    reference: str = ""
    status_text: str = ""
    event: str = ""
    when: str = ""
    venue: str = ""
    total: str = ""
    name: str = ""
    email: str = ""
    event_cancelled: bool = False
    tickets: list[dict[str, Any]] = []
    pdf: str = ""
    export: str = ""
    confirm_erase: bool = False
    erased: bool = False
    _token: str = ""

    @rx.event
    async def load(self) -> None:
        rt = await get_runtime()
        self._token = token_from_path(self.router.url.path)
        self.confirm_erase, self.erased = False, False
        try:
            a = await rt.order_access.open(self._token)
        except errors.LinkExpired:
            self.outcome = "expired"
            return
        except errors.Unauthenticated:
            self.outcome = "invalid"
            return
        except errors.OrderNotFound:
            self.outcome = "missing"
            return
        usable = [t for t in a.tickets if t.usable]
        qrs = iter(await rt.ticket_docs.qr_svgs([t.code for t in usable]))
        self.outcome = "ok"
        self.reference = _("Order #{id}", id=a.order_id)
        self.status_text = _(ORDER_STATUS_TEXT[a.status]) if a.status in ORDER_STATUS_TEXT \
            else a.status
        self.event, self.when, self.venue = a.event_title, a.when, a.venue
        self.total, self.name, self.email = a.total, a.buyer_name, a.buyer_email
        self.event_cancelled = a.event_status == "CANCELLED"
        self.tickets = [{
            "id": t.ticket_id, "seat": t.seat, "tier": t.tier, "price": t.price_text,
            "status": t.status, "usable": t.usable, "code": t.code,
            "status_text": _(STATUS_TEXT[t.status]) if t.status in STATUS_TEXT else t.status,
            "qr": next(qrs) if t.usable else "",
        } for t in a.tickets]
        base = f"/api/order-links/{self._token}"
        self.pdf = f"{base}/pdf" if usable else ""
        self.export = f"{base}/personal-data"

    @rx.event
    def ask_erase(self) -> None:
        self.confirm_erase = True

    @rx.event
    def keep_data(self) -> None:
        self.confirm_erase = False

    @rx.event
    async def erase(self) -> Any:
        rt = await get_runtime()
        try:
            await rt.order_access.erase(self._token)
        except errors.DomainError as exc:
            return rx.toast.error(exc.message)
        self.confirm_erase, self.erased = False, True
        self.name, self.email = "", ""
        return rx.toast.success(_("Your name and e-mail address were deleted."))
