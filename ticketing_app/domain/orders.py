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


class PaymentStatus(StrEnum):
    PENDING = "PENDING"
    AUTHORIZED = "AUTHORIZED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    REFUNDED = "REFUNDED"


ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.CREATED: frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED}),
    # Late-payment policy: a cancelled order may be re-confirmed if its seats are still free.
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
