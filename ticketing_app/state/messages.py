"""What the booking pages say when a service refuses: the domain's error codes in a buyer's
words. One place, so the seat map, the cart and the checkout say the same thing."""

from __future__ import annotations

from ticketing_app.domain import errors
from ticketing_app.i18n import N_, _


def hold_error_text(exc: errors.DomainError, seat: str = "") -> str:
    """The toast for a refused hold, release or extend. `seat` names the seat clicked."""
    this = seat or _("This seat")
    code = exc.code
    if code == "RESERVATION_CONFLICT":
        if "order" in exc.message:
            return _("{seat} is already in one of your orders awaiting payment.", seat=this)
        return _("Someone else is holding {seat} right now. "
                 "Pick another seat, or try again in a moment: holds are short.",
                 seat=seat or _("this seat"))
    if code == "VALIDATION_FAILED":
        statuses = {str(d.get("status", "")) for d in exc.details or []}
        if "BLOCKED" in statuses:
            return _("{seat} is not for sale.", seat=this)
        if "SOLD" in statuses or "sold" in exc.message:
            return _("{seat} is already sold.", seat=this)
        return exc.message
    if code == "SEAT_IN_ORDER":
        if all(d.get("status") == "SOLD" for d in exc.details or []):
            return _("{seat} is already sold.", seat=this)
        return _("{seat} is in an order awaiting payment: the order keeps it until it is "
                 "paid or cancelled.", seat=this)
    if code == "RESERVATION_EXPIRED":
        return _("Your hold has expired and the seat is available to everyone again. "
                 "Click it to hold it again.")
    if code == "LIMIT_EXCEEDED":
        return _("Limit reached: {reason}", reason=exc.message)
    if code == "SALES_CLOSED":
        if any(d.get("field") == "accessCode" for d in exc.details or []):
            return _("This event is in its presale: enter your access code above to choose "
                     "seats, or wait for the public sale.")
        return _("This event is not on sale. Seats cannot be held until sales open.")
    if code == "ORPHAN_SEAT":
        return exc.message
    if isinstance(exc, errors.WheelchairSpaceReserved):
        return _("{seat} is a wheelchair space, kept for buyers who need one. If you need "
                 "it, tick “I need a wheelchair space” and choose it again.",
                 seat=seat or _("This seat"))
    if code == "FORBIDDEN":
        return _("{seat} is held by someone else; only they can release it.", seat=this)
    if isinstance(exc, errors.NoBuyerCookie):
        return exc.message
    if code == "UNAUTHENTICATED":
        return _("Your place from the waiting room has run out: join the queue again.")
    if code == "RATE_LIMITED":
        return _("Too many clicks at once: wait a second and try again.")
    if code == "SERVICE_UNAVAILABLE":
        return _("The seat map is being rebuilt: try again in a few seconds.")
    return exc.message


def order_error_text(exc: errors.DomainError) -> str:
    """The message for a refused checkout (creating the order or starting the payment)."""
    code = exc.code
    if code == "RESERVATION_EXPIRED":
        return _("Your hold on these seats expired before the order was placed; the seats "
                 "are available to everyone again. Choose them again on the seat map.")
    if code == "SALES_CLOSED":
        return _("Sales for this event closed before your order was placed.")
    if code == "IDEMPOTENCY_IN_PROGRESS":
        return _("Your order is still being placed: wait a moment.")
    if code in ("VALIDATION_FAILED", "RESERVATION_CONFLICT"):
        return _("The order could not be placed: {reason}", reason=exc.message)
    return hold_error_text(exc)


# The waiting room's bot check (pages/waiting_room.py, state/waiting_room.py).
# Translated where shown (the page's `_()`).
CHECKING_BROWSER = N_("Checking your browser...")
CHECKING_DETAIL = N_("This takes a second or two and keeps bots out of the queue. "
                     "Keep this page open.")
CHECK_RETRY = N_("Try again")


def challenge_error_text(reason: str) -> str:
    """Why the browser check did not pass: the solver's `error`, or the service's error code."""
    if reason == "nocrypto":
        return _("Your browser cannot run the check. Open this page over a secure "
                 "connection (https) in an up-to-date browser.")
    if reason in ("VALIDATION_FAILED", "UNAUTHENTICATED"):
        return _("The check took too long or did not pass. Try again.")
    return _("The check did not finish. Try again.")
