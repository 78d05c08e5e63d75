"""The box office: find an order (reference, buyer name or e-mail, ticket code) and work on
one order: its tickets, payments, refunds and history; resend its tickets; refund all or
some of it after a confirmation that states the amount (and asks again for a ticket already
used at the door). Thin: the reads are `BoxOfficeService`'s, the refund `AdminService`'s."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain import errors
from ticketing_app.i18n import _, format_money, format_timestamp, ngettext
from ticketing_app.services.box_office import OrderDetail
from ticketing_app.state.admin import AdminState, admin_only, path_id
from ticketing_app.state.admin_words import action_text, details_text, status_text


def when(dt: Any, tz: str = "UTC") -> str:
    return format_timestamp(dt, tz) if dt else ""


class AdminOrdersState(AdminState):
    query: str = ""
    results: list[dict[str, Any]] = []
    searched: bool = False

    @rx.event
    @admin_only
    async def load(self) -> None:
        q = self.router.url.query_parameters.get("q", "")
        self.query = str(q)[:200]
        await self._search()

    async def _search(self) -> None:
        rt = await get_runtime()
        hits = await rt.box_office.search(self.query) if self.query else []
        self.searched = bool(self.query)
        self.results = [{
            "id": h.order.id, "event": h.event_title, "name": h.name or "-",
            "email": h.email or "-", "status": status_text(h.order.status),
            "seats": h.seats, "remaining": format_money(h.money.remaining, h.money.currency),
            "href": f"/admin/orders/{h.order.id}", "created": when(h.order.created_at),
        } for h in hits]

    @rx.event
    @admin_only
    async def search(self, form: dict[str, Any]) -> None:
        self.query = str(form.get("q", "")).strip()[:200]
        await self._search()


class AdminOrderState(AdminState):
    order_id: int = 0
    found: bool = True
    event_id: int = 0
    event_title: str = ""
    status: str = ""
    status_code: str = ""
    name: str = ""
    email: str = ""
    buyer: str = ""
    paid: str = ""
    refunded: str = ""
    remaining: str = ""
    refundable: bool = False
    items: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    # The refund waiting for its confirmation.
    confirm_open: bool = False
    confirm_text: str = ""
    confirm_warning: str = ""
    block: bool = False
    _pending_seats: list[int] = []
    _pending_all: bool = False

    @rx.event
    @admin_only
    async def load(self) -> None:
        self.order_id = path_id(self.router.url.path, "orders")
        self.confirm_open = False
        await self._load()

    async def _load(self) -> None:
        rt = await get_runtime()
        try:
            d = await rt.box_office.order(self.order_id)
        except errors.OrderNotFound:
            self.found = False
            return
        self.found = True
        self._show(d)

    def _show(self, d: OrderDetail) -> None:
        o, cur = d.view.order, d.view.order.currency
        tickets = {t.seat_id: t for t in d.tickets}
        self.event_id, self.event_title = o.event_id, d.event.title
        self.status, self.status_code = status_text(o.status), o.status
        self.name, self.email, self.buyer = d.name or "-", d.email or "-", o.buyer_id
        self.paid = format_money(d.money.paid, cur)
        self.refunded = format_money(d.money.refunded, cur)
        self.remaining = format_money(d.money.remaining, cur)
        self.refundable = o.status == "CONFIRMED"
        items = []
        for i in d.view.items:
            t = tickets.get(i.seat_id)
            state = "REFUNDED" if i.refunded else (t.status if t else o.status)
            items.append({
                "seat_id": i.seat_id, "label": i.seat_label, "tier": i.tier_name,
                "price": format_money(i.price, i.currency), "state": status_text(state),
                "checked_in": bool(t and t.status == "CHECKED_IN"),
                "admitted": when(t.checked_in_at) if t and t.checked_in_at else "",
                # Only a paid order's seats that are not refunded yet can be ticked.
                "tickable": self.refundable and not i.refunded,
                "field": f"seat_{i.seat_id}"})
        self.items = items
        self.payments = [{"id": p.id, "status": status_text(p.status),
                          "amount": format_money(p.amount, p.currency), "at": when(p.created_at),
                          "reason": p.failure_reason} for p in d.payments]
        self.history = [{"at": when(h.at), "what": action_text(h.kind),
                         "who": h.actor, "details": details_text(h.details, cur)}
                        for h in reversed(d.history)]

    # ---- refunds ------------------------------------------------------------------------
    @rx.event
    @admin_only
    async def ask_refund(self, form: dict[str, Any]) -> Any:
        """Refund selected: only what is ticked; nothing ticked refunds nothing."""
        chosen = [int(k[5:]) for k, v in form.items() if k.startswith("seat_") and v
                  and k[5:].isdigit()]
        self.block = bool(form.get("block"))
        if not chosen:
            return rx.toast.error(_("Tick the seats to refund, or use Refund whole order."))
        return await self._ask(chosen, whole=False)

    @rx.event
    @admin_only
    async def ask_refund_all(self) -> Any:
        return await self._ask([], whole=True)

    async def _ask(self, seats: list[int], whole: bool) -> Any:
        rt = await get_runtime()
        p = await rt.admin.refund_preview(self.order_id, None if whole else seats)
        if not p.seats:
            return rx.toast.error(_("Nothing left to refund in this order."))
        amount = format_money(p.amount, p.currency)
        after = format_money(p.remaining, p.currency)
        n = len(p.seats)
        if whole:
            self.confirm_text = ngettext(
                "Refund the whole order: {amount} for {n} seat? The seat goes back on sale "
                "unless kept blocked.",
                "Refund the whole order: {amount} for {n} seats? The seats go back on sale "
                "unless kept blocked.", n, amount=amount)
        else:
            self.confirm_text = ngettext(
                "Refund {amount} for {n} seat ({seats})? The order will then be worth "
                "{after}.",
                "Refund {amount} for {n} seats ({seats})? The order will then be worth "
                "{after}.", n, amount=amount, seats=", ".join(label for _s, label in p.seats),
                after=after)
        self.confirm_warning = _(
            "Already admitted at the door: {seats}. Refund anyway?",
            seats=", ".join(label for _s, label in p.checked_in)) if p.checked_in else ""
        self._pending_seats, self._pending_all = [s for s, _l in p.seats], whole
        self.confirm_open = True
        return None

    def _drop_pending(self) -> None:
        self.confirm_open, self._pending_seats, self._pending_all = False, [], False

    @rx.event
    def cancel_refund(self) -> None:
        self._drop_pending()

    @rx.event
    def dialog_changed(self, is_open: bool) -> None:
        """Escape or a click outside closes the confirmation: nothing is refunded."""
        if not is_open:
            self._drop_pending()

    @rx.event
    @admin_only
    async def confirm_refund(self) -> Any:
        rt = await get_runtime()
        if not self.confirm_open or not self._pending_seats:
            return None
        seats = None if self._pending_all else list(self._pending_seats)
        self.confirm_open = False
        # The organiser saw the warning about admitted tickets in the confirmation.
        view = await rt.admin.refund(self._actor, self.order_id, seats, self.block,
                                     allow_checked_in=True)
        self._pending_seats, self._pending_all = [], False
        await self._load()
        if view.order.status == "REFUNDED":
            return rx.toast.success(_("Order #{id} is fully refunded.", id=self.order_id))
        return rx.toast.success(_("Refunded. Order #{id} is now worth {remaining}.",
                                  id=self.order_id, remaining=self.remaining))

    @rx.event
    @admin_only
    async def resend(self) -> Any:
        rt = await get_runtime()
        d = await rt.box_office.resend_tickets(self._actor, self.order_id)
        self._show(d)
        return rx.toast.success(_("Tickets sent again to {email}.", email=d.email))
