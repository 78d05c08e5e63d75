"""A buyer's details at checkout and the signed link that opens an order's tickets anywhere.

Pure rules: what a name and an e-mail address must look like, and the link's token: the order
id and an expiry, signed with the app's secret key (HMAC, like buyer tokens), so it works in
any browser without a cookie, cannot be pointed at another order, and stops working when it
expires. The link is only ever mailed (never shown on a page), so holding one proves access to
the order's mailbox: that is what lets it export or erase the buyer's personal data.
"""

from __future__ import annotations

import enum
import hmac
import re
import unicodedata
from dataclasses import dataclass

from ticketing_app.domain import errors
from ticketing_app.domain.identity import sign_value

NAME_MAX = 100
EMAIL_MAX = 254
LINK_PREFIX = "o1"
_LINK_PURPOSE = "order-link"
_LINK = re.compile(r"^o1-([1-9][0-9]{0,11})-([0-9]{1,12})-([A-Za-z0-9_-]{20,64})$")
# Order references as buyers type them: "Order #12", "주문 #12", "#12", "12".
_REFERENCE = re.compile(r"^\s*(?:order|주문)?\s*(?:no\.?\s*)?#?\s*([0-9]{1,12})\s*$",
                        re.IGNORECASE)


@dataclass(frozen=True)
class BuyerDetails:
    """Who bought: asked at checkout in the web app, optional on `POST /api/orders`."""

    name: str
    email: str
    locale: str = ""


def normalise_email(email: str) -> str:
    """Addresses compare without case (nobody's mailbox depends on it in practice)."""
    return (email or "").strip().lower()


def check_buyer_details(name: str | None, email: str | None, locale: str = "",
                        prefix: str = "buyer") -> BuyerDetails:
    """ValidationFailed listing every bad field (`buyerName`, `buyerEmail`)."""
    from email_validator import EmailNotValidError, validate_email

    problems: list[dict[str, str]] = []
    clean_name = unicodedata.normalize("NFC", " ".join((name or "").split()))
    if not clean_name:
        problems.append({"field": f"{prefix}Name", "message": "required"})
    elif len(clean_name) > NAME_MAX or any(unicodedata.category(c).startswith("C")
                                           for c in clean_name):
        problems.append({"field": f"{prefix}Name",
                         "message": f"at most {NAME_MAX} printable characters"})
    address = normalise_email(email or "")
    if not address:
        problems.append({"field": f"{prefix}Email", "message": "required"})
    else:
        try:
            address = validate_email(address, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            problems.append({"field": f"{prefix}Email", "message": "not an e-mail address"})
        if len(address) > EMAIL_MAX:
            problems.append({"field": f"{prefix}Email", "message": "too long"})
    if problems:
        raise errors.ValidationFailed("Check your name and e-mail address.", problems)
    return BuyerDetails(clean_name, address, locale)


def parse_reference(text: str) -> int | None:
    """The order id in what a buyer typed as their order reference, or None."""
    m = _REFERENCE.match(text or "")
    return int(m.group(1)) if m else None


class LinkCheck(enum.Enum):
    OK = "ok"
    EXPIRED = "expired"
    INVALID = "invalid"  # not ours, or changed


@dataclass(frozen=True)
class LinkResult:
    check: LinkCheck
    order_id: int = 0
    expires_at_s: int = 0


def issue_order_link(secret: str, order_id: int, expires_at_s: int) -> str:
    """`o1-<order>-<expiry, epoch seconds>-<signature>`: URL-safe, no dots (a path segment)."""
    value = f"{int(order_id)}-{int(expires_at_s)}"
    return f"{LINK_PREFIX}-{value}-{sign_value(secret, _LINK_PURPOSE, value, 43)}"


def verify_order_link(secret: str, token: str, now_s: float) -> LinkResult:
    """A changed token (another order, a later expiry, a forged signature) is INVALID; an
    untouched one past its expiry is EXPIRED."""
    m = _LINK.match(token or "")
    if not m:
        return LinkResult(LinkCheck.INVALID)
    order_id, expires, sig = int(m.group(1)), int(m.group(2)), m.group(3)
    expected = sign_value(secret, _LINK_PURPOSE, f"{order_id}-{expires}", 43)
    if not hmac.compare_digest(sig, expected):
        return LinkResult(LinkCheck.INVALID)
    if now_s >= expires:
        return LinkResult(LinkCheck.EXPIRED, order_id, expires)
    return LinkResult(LinkCheck.OK, order_id, expires)
