"""Pure rules of a buyer's details and the signed order link (domain/buyers.py)."""

from __future__ import annotations

import pytest

from ticketing_app.domain import errors
from ticketing_app.domain.buyers import (
    LinkCheck,
    check_buyer_details,
    issue_order_link,
    parse_reference,
    verify_order_link,
)

SECRET = "s" * 40


def test_details_are_cleaned_and_addresses_compared_without_case() -> None:
    d = check_buyer_details("  Kim   Minji ", " Minji.Kim@Example.COM ", "ko")
    assert (d.name, d.email, d.locale) == ("Kim Minji", "minji.kim@example.com", "ko")
    assert check_buyer_details("홍길동", "hong@example.kr").name == "홍길동"


@pytest.mark.parametrize(("name", "email", "fields"), [
    ("", "a@example.com", {"buyerName"}),
    ("Kim", "", {"buyerEmail"}),
    ("Kim", "not-an-address", {"buyerEmail"}),
    ("Kim", "someone@nodot", {"buyerEmail"}),
    ("x" * 101, "a@example.com", {"buyerName"}),
    ("Kim\x07", "a@example.com", {"buyerName"}),
    ("", "bad", {"buyerName", "buyerEmail"}),
])
def test_bad_details_name_every_field(name: str, email: str, fields: set[str]) -> None:
    with pytest.raises(errors.ValidationFailed) as info:
        check_buyer_details(name, email)
    assert {d["field"] for d in info.value.details or []} == fields


@pytest.mark.parametrize(("text", "order"), [
    ("Order #12", 12), ("#12", 12), ("12", 12), (" order 7 ", 7), ("주문 #3", 3), ("주문3", 3),
    ("#", None), ("12a", None), ("", None),
])
def test_references_as_buyers_type_them(text: str, order: int | None) -> None:
    assert parse_reference(text) == order


def test_a_link_opens_its_order_until_it_expires() -> None:
    token = issue_order_link(SECRET, 42, 2_000)
    assert "." not in token and "/" not in token  # one URL path segment
    ok = verify_order_link(SECRET, token, 1_999)
    assert (ok.check, ok.order_id, ok.expires_at_s) == (LinkCheck.OK, 42, 2_000)
    assert verify_order_link(SECRET, token, 2_000).check is LinkCheck.EXPIRED


def test_a_changed_or_foreign_link_is_invalid() -> None:
    token = issue_order_link(SECRET, 42, 2_000)
    _, oid, exp, sig = token.split("-", 3)
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    for bad in (f"o1-43-{exp}-{sig}", f"o1-{oid}-3000-{sig}", f"o1-{oid}-{exp}-{flipped}",
                f"o2-{oid}-{exp}-{sig}", token + "x", "", "o1-42-2000"):
        assert verify_order_link(SECRET, bad, 1_000).check is LinkCheck.INVALID, bad
    assert verify_order_link("t" * 40, token, 1_000).check is LinkCheck.INVALID
