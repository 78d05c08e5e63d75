"""Page loads only (not the API): the signed buyer cookie every browser gets on its first page,
so all tabs of one browser are one buyer. The request layer (`api/edge.py`) sends page loads
through here and the admin page guard; API requests never pay for either."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketing_app.domain.identity import issue_buyer_token, new_buyer_id, verify_buyer_token
from ticketing_app.settings import get_settings


class BuyerCookieMiddleware:
    """Gives every browser a signed, HttpOnly buyer cookie on its first page load, so all tabs
    of one browser are one buyer; the Reflex state reads it from the websocket handshake."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(
            ("/api", "/actuator", "/metrics", "/_event", "/ping", "/_upload", "/_health")
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        if b"text/html" not in headers.get(b"accept", b""):
            await self.app(scope, receive, send)  # only page loads, not assets
            return
        settings = get_settings()
        name = settings.buyer_cookie_name
        cookie_header = headers.get(b"cookie", b"").decode()
        current = _cookie_value(cookie_header, name)
        if current and verify_buyer_token(settings.secret_key, current):
            await self.app(scope, receive, send)
            return
        token = issue_buyer_token(settings.secret_key, new_buyer_id())
        secure = "; Secure" if settings.app_env == "production" else ""
        cookie = f"{name}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000{secure}"

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("Set-Cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _cookie_value(header: str, name: str) -> str | None:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None
