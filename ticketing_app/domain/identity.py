"""Signed buyer tokens: HMAC over the buyer id with the app's secret key."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets

BUYER_ID_RE = re.compile(r"^[A-Za-z0-9_.\-@]{1,64}$")
TOKEN_PREFIX = "b1"


def _sign(secret: str, purpose: str, value: str, length: int = 32) -> str:
    mac = hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")[:length]


def new_buyer_id() -> str:
    return "u_" + secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")


def issue_buyer_token(secret: str, buyer_id: str) -> str:
    return f"{TOKEN_PREFIX}.{buyer_id}.{_sign(secret, 'buyer', buyer_id)}"


def verify_buyer_token(secret: str, token: str) -> str | None:
    """Returns the buyer id when the token is ours and untampered, else None."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    _, buyer_id, sig = parts
    if not BUYER_ID_RE.match(buyer_id):
        return None
    if not hmac.compare_digest(sig, _sign(secret, "buyer", buyer_id)):
        return None
    return buyer_id


@functools.lru_cache(maxsize=1 << 16)
def holder_tag(secret: str, event_id: int, buyer_id: str) -> str:
    """A per-event pseudonym broadcast with held seats, so a page can tell "held by me"
    without learning who holds the others. Remembered: every hold request needs one."""
    return _sign(secret, f"tag:{event_id}", buyer_id, 10)


def sign_value(secret: str, purpose: str, value: str, length: int = 32) -> str:
    return _sign(secret, purpose, value, length)
