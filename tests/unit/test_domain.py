"""Pure rules: no services needed."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from ticketing_app.api.errors import is_refused_value
from ticketing_app.domain.idempotency import check_key, request_fingerprint
from ticketing_app.domain.identity import (
    holder_tag,
    issue_buyer_token,
    new_buyer_id,
    verify_buyer_token,
)
from ticketing_app.domain.orders import (
    LAPSED_REASON,
    CancelKind,
    OrderStatus,
    PaymentStatus,
    can_transition_order,
    can_transition_payment,
    late_payment_may_confirm,
)
from ticketing_app.domain.seats import clamp_hold_seconds, format_money, row_label, seat_label
from ticketing_app.domain.tickets import make_ticket_code, parse_ticket_code
from ticketing_app.settings import plain_postgres_url, to_async_url, to_sync_url


@pytest.mark.parametrize(("r", "label"), [(1, "A"), (3, "C"), (26, "Z"), (27, "AA"), (52, "AZ")])
def test_row_labels(r: int, label: str) -> None:
    assert row_label(r) == label


def test_seat_label_and_money() -> None:
    assert seat_label("Main", 3, 7) == "Row C seat 7"
    assert seat_label("Balcony", 1, 2) == "Balcony Row A seat 2"
    assert format_money(52000, "KRW") == "52,000 KRW"
    assert format_money(1999, "EUR") == "19.99 EUR"


@pytest.mark.parametrize(("req", "want"), [(None, 30), (1, 5), (30, 30), (500, 120), (-4, 5)])
def test_hold_seconds_clamped_like_the_original(req: int | None, want: int) -> None:
    assert clamp_hold_seconds(req, 30, 5, 120) == want


def test_order_state_machine() -> None:
    assert can_transition_order(OrderStatus.CREATED, OrderStatus.CONFIRMED)
    assert can_transition_order(OrderStatus.CREATED, OrderStatus.CANCELLED)
    assert can_transition_order(OrderStatus.CONFIRMED, OrderStatus.REFUNDED)
    assert can_transition_order(OrderStatus.CANCELLED, OrderStatus.CONFIRMED)  # late payment
    assert not can_transition_order(OrderStatus.REFUNDED, OrderStatus.CONFIRMED)
    assert not can_transition_order(OrderStatus.CONFIRMED, OrderStatus.CANCELLED)
    assert can_transition_payment(PaymentStatus.PENDING, PaymentStatus.TIMED_OUT)
    assert not can_transition_payment(PaymentStatus.FAILED, PaymentStatus.AUTHORIZED)


def test_only_a_lapsed_window_lets_a_late_payment_confirm() -> None:
    assert late_payment_may_confirm("CREATED", "", "")
    assert late_payment_may_confirm("CANCELLED", CancelKind.LAPSED, LAPSED_REASON)
    for kind in (CancelKind.BUYER, CancelKind.EVENT, CancelKind.PAYMENT, CancelKind.REFUNDED):
        assert not late_payment_may_confirm("CANCELLED", kind, LAPSED_REASON)
    # Rows the previous release cancelled have no kind: the expiry's close reason tells.
    assert late_payment_may_confirm("CANCELLED", "", LAPSED_REASON)
    assert not late_payment_may_confirm("CANCELLED", "", "cancelled by buyer")
    assert not late_payment_may_confirm("CONFIRMED", "", "")


def test_buyer_tokens_are_signed() -> None:
    buyer = new_buyer_id()
    token = issue_buyer_token("s3cret", buyer)
    assert verify_buyer_token("s3cret", token) == buyer
    assert verify_buyer_token("other", token) is None
    assert verify_buyer_token("s3cret", token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert verify_buyer_token("s3cret", "b1.evil.sig") is None
    assert holder_tag("k", 1, "a") != holder_tag("k", 2, "a")


def test_ticket_codes_reject_forgery() -> None:
    code = make_ticket_code("k", 7, 42)
    assert parse_ticket_code("k", code) == (7, 42)
    prefix, body, sig = code.split(".")
    assert parse_ticket_code("k", f"{prefix}.7-43-{body.split('-', 2)[2]}.{sig}") is None
    assert parse_ticket_code("other-key", code) is None
    assert parse_ticket_code("k", "garbage") is None


def test_idempotency_fingerprint_and_keys() -> None:
    a = request_fingerprint("POST", "/api/orders", {"eventId": 1, "seatIds": [1, 2]})
    b = request_fingerprint("POST", "/api/orders", {"seatIds": [1, 2], "eventId": 1})
    c = request_fingerprint("POST", "/api/orders", {"eventId": 1, "seatIds": [2, 1]})
    assert a == b != c
    with pytest.raises(Exception, match="required"):
        check_key(None)
    with pytest.raises(Exception, match="invalid"):
        check_key("x" * 201)


def test_database_urls_pick_async_drivers() -> None:
    assert to_async_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert to_async_url("sqlite:////tmp/x.db") == "sqlite+aiosqlite:////tmp/x.db"
    assert to_sync_url("postgresql+asyncpg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert plain_postgres_url("postgresql+asyncpg://u@h/db") == "postgresql://u@h/db"


def test_a_value_the_database_refuses_is_the_clients_fault_not_an_outage() -> None:
    """asyncpg's adapter raises SQLSTATE class 22 (data exception) as a plain DBAPIError."""

    class DriverError(Exception):
        def __init__(self, sqlstate: str):
            self.sqlstate = sqlstate

    def wrapped(sqlstate: str) -> DBAPIError:
        return DBAPIError("SELECT 1", {}, DriverError(sqlstate))

    assert is_refused_value(wrapped("22003"))  # numeric value out of range
    assert is_refused_value(wrapped("22000"))  # asyncpg: an int over int32 for an int4 column
    assert not is_refused_value(wrapped("08006"))  # connection failure: an outage
    assert not is_refused_value(DBAPIError("SELECT 1", {}, Exception("no code")))
