"""The order and payment state machine shared by the API, the worker and the UI.

Each transition happens once: services apply them with a guarded UPDATE
(`WHERE status = <from>`), so a repeated message or job finds nothing to change.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    CREATED = "CREATED"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


class OrderKind(StrEnum):
    """Who made an order (orders.kind), so reports count them apart."""

    SALE = "SALE"  # a buyer's purchase
    COMP = "COMP"  # free tickets the box office issued to a named customer
    RESERVATION = "RESERVATION"  # seats the box office holds for a named customer


class CancelKind(StrEnum):
    """Why an order was cancelled (orders.cancel_kind). Only a lapsed payment window lets a
    payment that arrives afterwards re-confirm the order (the late-payment policy); a payment
    for an order someone chose to cancel (the buyer, or the organiser by cancelling the
    event) is refunded, so "cancelled" is never charged in fact."""

    LAPSED = "LAPSED"  # the payment window ended with no payment running
    BUYER = "BUYER"  # the buyer cancelled
    EVENT = "EVENT"  # the event was cancelled
    PAYMENT = "PAYMENT"  # the payment failed or timed out (saga compensation)
    REFUNDED = "REFUNDED"  # paid too late, seats gone: refunded under the late-payment policy
    RELEASED = "RELEASED"  # the box office released a named reservation


# The close reason the expiry writes; also how rows written before orders.cancel_kind existed
# (the previous release, during a rolling deploy) tell a lapsed window from a cancellation.
LAPSED_REASON = "payment window expired"


def late_payment_may_confirm(status: str, cancel_kind: str, close_reason: str) -> bool:
    """Whether a payment that succeeds for an order in this state may confirm it: an open
    order, or one cancelled only because its payment window lapsed."""
    if status == OrderStatus.CREATED.value:
        return True
    if status != OrderStatus.CANCELLED.value:
        return False
    if cancel_kind:
        return cancel_kind == CancelKind.LAPSED.value
    return close_reason == LAPSED_REASON


class PaymentStatus(StrEnum):
    PENDING = "PENDING"
    AUTHORIZED = "AUTHORIZED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    REFUNDED = "REFUNDED"


ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.CREATED: frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED}),
    # Late-payment policy: an order cancelled because its payment window lapsed may be
    # re-confirmed if its seats are still free (never one cancelled by someone: CancelKind).
    OrderStatus.CANCELLED: frozenset({OrderStatus.CONFIRMED}),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.REFUNDED: frozenset(),
}

PAYMENT_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PENDING: frozenset(
        {PaymentStatus.AUTHORIZED, PaymentStatus.FAILED, PaymentStatus.TIMED_OUT}
    ),
    PaymentStatus.AUTHORIZED: frozenset({PaymentStatus.REFUNDED}),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.TIMED_OUT: frozenset(),
    PaymentStatus.REFUNDED: frozenset(),
}


def can_transition_order(src: OrderStatus, dst: OrderStatus) -> bool:
    return dst in ORDER_TRANSITIONS[src]


def can_transition_payment(src: PaymentStatus, dst: PaymentStatus) -> bool:
    return dst in PAYMENT_TRANSITIONS[src]


FINAL_ORDER_STATES = frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED, OrderStatus.REFUNDED})


def public_payment_outcome(status: PaymentStatus) -> str:
    """The original's `authorize` answered `success` or `fail`; pending is our 202."""
    if status in (PaymentStatus.AUTHORIZED, PaymentStatus.REFUNDED):
        return "success" if status is PaymentStatus.AUTHORIZED else "fail"
    if status is PaymentStatus.PENDING:
        return "pending"
    return "fail"
