"""Plain words for what the admin pages show from the machine: audit actions and their
details, an order's history entries, statuses. One place, in the reader's language, so the
audit log and an order's history say the same thing the same way (no raw JSON, no event
type names)."""

from __future__ import annotations

from typing import Any

from ticketing_app.i18n import N_, _, format_money

ACTIONS: dict[str, str] = {
    "admin.create": N_("Account created"),
    "admin.login": N_("Signed in"),
    "admin.logout": N_("Signed out"),
    "admin.password": N_("Password changed"),
    "venue.create": N_("Venue created"),
    "venue.import": N_("Venue imported"),
    "event.create": N_("Event created"),
    "event.update": N_("Event settings changed"),
    "event.status": N_("Sales status changed"),
    "event.cancel": N_("Event cancelled"),
    "tier.create": N_("Price tier added"),
    "tier.update": N_("Price tier changed"),
    "tier.delete": N_("Price tier removed"),
    "tier.assign": N_("Seats moved to a tier"),
    "seats.block": N_("Seats blocked"),
    "seats.unblock": N_("Seats unblocked"),
    "seats.remove": N_("Seats removed"),
    "holds.release_all": N_("All holds released"),
    "order.refund": N_("Refund"),
    "order.resend": N_("Tickets sent again"),
    "checkin": N_("Ticket admitted"),
    "comp.issue": N_("Complimentary tickets issued"),
    "reservation.issue": N_("Seats reserved for a customer"),
    "reservation.release": N_("Reservation released"),
    "reservation.convert": N_("Reservation confirmed as an order"),
    "presale.window": N_("Presale times changed"),
    "access_code.create": N_("Access code created"),
    # Order events from the outbox (an order's history).
    "ORDER_CREATED": N_("Order placed"),
    "PAYMENT_SUCCESS": N_("Payment approved"),
    "PAYMENT_FAILED": N_("Payment failed"),
    "ORDER_CONFIRMED": N_("Order confirmed, tickets issued"),
    "ORDER_CANCELLED": N_("Order cancelled"),
    "ORDER_REFUNDED": N_("Refunded"),
    "PAYMENT_REFUNDED": N_("Late payment refunded"),
    "TICKETS_RESENT": N_("Tickets sent again"),
    "TICKET_CHECKED_IN": N_("Ticket admitted at the door"),
}
STATUSES: dict[str, str] = {
    "DRAFT": N_("Draft"), "ON_SALE": N_("On sale"), "CLOSED": N_("Sales closed"),
    "CANCELLED": N_("Cancelled"), "CREATED": N_("Awaiting payment"),
    "CONFIRMED": N_("Paid"), "REFUNDED": N_("Refunded"), "VALID": N_("Valid"),
    "CHECKED_IN": N_("Admitted"), "PENDING": N_("Pending"), "AUTHORIZED": N_("Approved"),
    "FAILED": N_("Failed"), "TIMED_OUT": N_("Timed out"),
}
FIELDS: dict[str, str] = {
    "title": N_("title"), "venueId": N_("venue"), "status": N_("status"), "old": N_("before"),
    "new": N_("after"), "seats": N_("seats"), "changed": N_("changed"),
    "released": N_("released"), "amount": N_("amount"), "full": N_("whole order"),
    "block": N_("seats kept blocked"), "username": N_("user"), "role": N_("role"),
    "email": N_("e-mail"), "reason": N_("reason"), "name": N_("name"), "price": N_("price"),
    "tiers": N_("tiers"), "changes": N_("changes"), "gate": N_("gate"),
    "refundedSeatIds": N_("seats"), "checkedInBy": N_("admitted by"), "total": N_("total"),
}
# Details that say nothing to a reader (ids for machines, copies of the row's own fields).
HIDDEN = {"eventType", "traceId", "buyerId", "orderId", "eventId", "seatIds", "ticketId",
          "currency", "blocked", "actor"}


def action_text(action: str) -> str:
    text = ACTIONS.get(action)
    return _(text) if text else action


def status_text(status: str) -> str:
    text = STATUSES.get(status)
    return _(text) if text else status.replace("_", " ").lower()


def _value(key: str, value: Any, currency: str) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key in ("amount", "total", "price") and isinstance(value, int):
        return format_money(value, currency)
    if isinstance(value, dict) and set(value) == {"old", "new"}:
        return _("{old} → {new}", old=value["old"], new=value["new"])
    if isinstance(value, dict):
        return "; ".join(f"{_field(k)}: {_value(k, v, currency)}" for k, v in value.items())
    if isinstance(value, list):
        if len(value) > 12:
            return _("{count} items", count=len(value))
        return ", ".join(_value(key, v, currency) for v in value)
    return str(value)


def _field(key: str) -> str:
    text = FIELDS.get(key)
    return _(text) if text else key


def details_text(details: dict[str, Any] | None, currency: str = "KRW") -> str:
    """`{"old": "DRAFT", "new": "ON_SALE"}` -> "before: DRAFT · after: ON_SALE"."""
    parts = [f"{_field(k)}: {_value(k, v, currency)}" for k, v in (details or {}).items()
             if k not in HIDDEN and v not in (None, "", [], {})]
    return " · ".join(parts)[:400]
