"""The base of every page state: who the buyer is.

The buyer is the signed HttpOnly cookie the server sets on the first page load, read from the
websocket handshake, so all tabs of one browser are one buyer.
"""

from __future__ import annotations

import reflex as rx

from ticketing_app.domain.identity import new_buyer_id, verify_buyer_token
from ticketing_app.settings import get_settings


def buyer_from_cookie_header(cookie_header: str) -> str | None:
    settings = get_settings()
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == settings.buyer_cookie_name:
            return verify_buyer_token(settings.secret_key, value)
    return None


class BuyerState(rx.State):
    """Shared by the booking pages; `_buyer` never leaves the server."""

    _buyer: str = ""

    def buyer(self) -> str:
        if not self._buyer:
            self._buyer = buyer_from_cookie_header(self.router.headers.cookie) or \
                f"tab-{new_buyer_id()}"
        return self._buyer
