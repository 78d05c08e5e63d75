"""The base of every page state: who the buyer is, and from which address.

The buyer is the signed HttpOnly cookie the server sets on the first page load, read from the
websocket handshake, so all tabs of one browser are one buyer. A websocket that arrives without
that cookie (a script, not a browser that loaded a page) may look but not hold: otherwise each
connection would be a fresh buyer, and per-buyer limits would mean nothing.
"""

from __future__ import annotations

import reflex as rx

from ticketing_app.domain import errors
from ticketing_app.domain.identity import new_buyer_id, verify_buyer_token
from ticketing_app.domain.network import TrustedProxies
from ticketing_app.settings import get_settings

ANONYMOUS_PREFIX = "tab-"


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
        """The cookie's buyer, or an anonymous one for this tab (it sees, never holds)."""
        if not self._buyer:
            self._buyer = buyer_from_cookie_header(self.router.headers.cookie) or \
                f"{ANONYMOUS_PREFIX}{new_buyer_id()}"
        return self._buyer

    def claimant(self) -> str:
        """The buyer, for anything that claims seats: only one the cookie names."""
        buyer = self.buyer()
        if buyer.startswith(ANONYMOUS_PREFIX):
            raise errors.NoBuyerCookie()
        return buyer

    def client_address(self) -> str:
        """The browser's address (the per-address abuse limit): the websocket's peer, or
        what a trusted load balancer forwarded."""
        raw = self.router.headers.raw_headers
        peer = raw.get("asgi-scope-client") or self.router.session.client_ip
        return TrustedProxies(get_settings().forwarded_allow_ips).resolve(
            peer, raw.get("x-forwarded-for"))
