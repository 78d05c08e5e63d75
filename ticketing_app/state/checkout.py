"""Checkout: place the order for the held seats, pay, show the outcome. Thin over
OrderService and PaymentService.

One idempotency key per checkout attempt, kept in this state (which survives a reload of the
tab): a double click, a second tab event or a reload while the order is being placed send the
same key, so the order service answers with the one order it created. A new key is taken only
for a different set of seats or after a failed payment ("try again").
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import reflex as rx

from ticketing_app.bootstrap import Runtime, get_runtime
from ticketing_app.domain import errors
from ticketing_app.domain.buyers import NAME_MAX, check_buyer_details
from ticketing_app.domain.orders import OrderStatus
from ticketing_app.domain.seats import format_money
from ticketing_app.i18n import _, current_locale
from ticketing_app.routes import event_url
from ticketing_app.state.base import BuyerState
from ticketing_app.state.cart import CartState, _event_id
from ticketing_app.state.messages import hold_error_text, order_error_text
from ticketing_app.state.seat_map import event_when_where

# The idempotency records of web checkouts carry this path (the REST API's is /api/orders).
WEB_ORDER_PATH = "/web/checkout"
POLL_S = 0.5


class CheckoutState(BuyerState):
    event_id: rx.Field[int] = rx.field(0)
    # review | creating | paying | success | failed
    phase: rx.Field[str] = rx.field("review")
    message: rx.Field[str] = rx.field("")
    order_id: rx.Field[int] = rx.field(0)
    reference: rx.Field[str] = rx.field("")
    summary: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)
    summary_total: rx.Field[str] = rx.field("")
    # The event, as the review and the confirmation name it: title, "date (zone) · venue".
    event_title: rx.Field[str] = rx.field("")
    event_when: rx.Field[str] = rx.field("")
    # Who buys: the confirmation (with the link that opens the tickets anywhere) goes there.
    buyer_name: rx.Field[str] = rx.field("")
    buyer_email: rx.Field[str] = rx.field("")
    name_error: rx.Field[str] = rx.field("")
    email_error: rx.Field[str] = rx.field("")
    _attempt_key: str = ""
    _attempt_seats: list[int] = []
    _attempt_buyer: tuple[str, str] = ("", "")

    @rx.event
    async def load(self) -> Any:
        event_id = _event_id(self.router.url.path)
        cart = await self.get_state(CartState)
        if event_id != self.event_id:
            self._reset(event_id)
        if self.phase in ("success", "failed") and any(not i["in_order"] for i in cart.items):
            self._reset(event_id)  # a new purchase after the last one's result
        await self._load_event()
        if self.phase == "paying" and self.order_id:
            return CheckoutState.follow_payment  # a reload while paying: keep following it
        return None

    async def _load_event(self) -> None:
        rt = await get_runtime()
        try:
            ev = await rt.catalog.public_event(self.event_id)
        except errors.DomainError:
            self.event_title, self.event_when = "", ""
            return
        self.event_title, self.event_when = ev.title, await event_when_where(rt, ev)
        if not self.buyer_email:  # the address left on My tickets, if any
            self.buyer_email = await rt.buyer_tickets.email_of(self.buyer())

    @rx.event
    async def submit(self, form: dict[str, Any]) -> Any:
        """The review's form: name and e-mail checked, then the order is placed."""
        if self.phase in ("creating", "paying", "success"):
            return None
        self.buyer_name = str(form.get("buyer_name", ""))
        self.buyer_email = str(form.get("buyer_email", ""))
        self.name_error = self.email_error = ""
        try:
            details = check_buyer_details(self.buyer_name, self.buyer_email)
        except errors.ValidationFailed as exc:
            fields = {str(d.get("field")) for d in exc.details or []}
            if "buyerName" in fields:
                self.name_error = _("Enter your name (at most {n} characters).", n=NAME_MAX)
            if "buyerEmail" in fields:
                self.email_error = _("Enter a valid e-mail address, like name@example.com.")
            return None
        self.buyer_name, self.buyer_email = details.name, details.email
        return CheckoutState.place_order

    def _reset(self, event_id: int) -> None:
        self.event_id = event_id
        self.phase, self.message, self.order_id, self.reference = "review", "", 0, ""
        self.summary, self.summary_total = [], ""
        self._attempt_key, self._attempt_seats = "", []

    @rx.event(background=True)
    async def place_order(self) -> Any:
        async with self:
            if self.phase in ("creating", "paying", "success"):
                return None  # a double click: the first click's attempt is running
            cart = await self.get_state(CartState)
            seats = sorted(int(i["id"]) for i in cart.items)
            if not seats:
                self.message = _("Your cart is empty: hold seats on the seat map first.")
                return None
            who = (self.buyer_name, self.buyer_email)
            if seats != self._attempt_seats or not self._attempt_key or \
                    who != self._attempt_buyer:
                self._attempt_key, self._attempt_seats = f"web-{uuid.uuid4().hex}", seats
                self._attempt_buyer = who
            key, buyer, event_id = self._attempt_key, self.buyer(), self.event_id
            self.phase, self.message = "creating", ""
        rt = await get_runtime()
        try:
            details = check_buyer_details(who[0], who[1], current_locale())
            status, body = await rt.orders.create(buyer, key, event_id, seats,
                                                  path=WEB_ORDER_PATH, buyer_details=details)
            if status >= 400:  # the stored answer of this key's first attempt was a refusal
                raise errors.Conflict(str(body.get("message", _("The order was refused."))))
        except errors.DomainError as exc:
            async with self:
                self.phase, self.message = "review", order_error_text(exc)
                if exc.status < 500:
                    self._attempt_key = ""  # seats or holds changed: the next try is new
                cart = await self.get_state(CartState)
                await cart.sync(rt)
            return rx.toast.error(order_error_text(exc), id="checkout-error")
        async with self:
            self.order_id, self.phase = int(body["orderId"]), "paying"
            cart = await self.get_state(CartState)
            await cart.sync(rt)
        await self._pay(rt, buyer, int(body["orderId"]))
        return None

    @rx.event(background=True)
    async def follow_payment(self) -> None:
        async with self:
            order_id, buyer = self.order_id, self.buyer()
        if order_id:
            await self._pay(await get_runtime(), buyer, order_id)

    async def _pay(self, rt: Runtime, buyer: str, order_id: int) -> None:
        """Start (or join) the payment job and wait for the order's outcome."""
        try:
            outcome = await rt.payments.authorize(buyer, order_id, wait=True)
            status = outcome.public_status
        except errors.DomainError:
            status = "pending"  # the order was already closed: its status says how
        deadline = asyncio.get_running_loop().time() + \
            rt.settings.order_payment_window_s + rt.settings.payment_job_timeout_s + 30
        view = await rt.orders.get(order_id, buyer)
        while view.order.status == OrderStatus.CREATED.value and status == "pending" \
                and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(POLL_S)
            view = await rt.orders.get(order_id, buyer)
        payment = await rt.payments.latest(order_id)
        public = view.public()
        async with self:
            if self.order_id != order_id:
                return  # a newer attempt replaced this one
            self.summary = [{"id": i["seatId"], "label": i["label"], "tier": i["tier"] or "",
                             "price": format_money(int(i["price"]), str(i["currency"]))}
                            for i in public["items"]]
            self.summary_total = format_money(int(public["total"]), str(public["currency"]))
            self.reference = _("Order #{id}", id=order_id)
            if view.order.status == OrderStatus.CONFIRMED.value:
                self.phase, self.message = "success", ""
                self._attempt_key, self._attempt_seats = "", []
            elif view.order.status == OrderStatus.CREATED.value:
                self.message = "The payment is taking longer than usual; this page updates " \
                               "when it is done."
            else:
                self.phase = "failed"
                self.message = _failure_text(order_id, payment.failure_reason if payment else "",
                                             view.order.close_reason or "")
            cart = await self.get_state(CartState)
            await cart.sync(rt)

    @rx.event
    async def try_again(self) -> Any:
        """Hold the failed order's seats again (if still free) and start a new attempt."""
        rt = await get_runtime()
        seats = [int(i["id"]) for i in self.summary]
        cart = await self.get_state(CartState)
        try:
            buyer = self.claimant()
            entry = await rt.waiting.entry(buyer, self.event_id)
            await rt.reservations.hold(buyer, self.event_id, seats, None, admission=entry.token,
                                       client=self.client_address(), web=True)
        except errors.DomainError as exc:
            await cart.sync(rt, self.event_id)
            return [rx.toast.error(hold_error_text(exc)), rx.redirect(event_url(self.event_id))]
        await cart.sync(rt, self.event_id)
        self._reset(self.event_id)
        return None


def _failure_text(order_id: int, failure: str, reason: str) -> str:
    declined = "declin" in (failure + reason).lower() or not failure
    if declined:
        return _("The payment was declined. Order #{id} is cancelled and its seats were "
                 "released: they are available to everyone again. Nothing was charged.",
                 id=order_id)
    return _("The payment failed ({failure}). Order #{id} is cancelled and its seats were "
             "released: they are available to everyone again. Any charge is refunded.",
             id=order_id, failure=failure)
