"""Pure ASGI middleware (no per-request task overhead): a span per request so `Trace-Id` is
the trace's id, latency metrics, security headers, a request size limit, the buyer cookie."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import trace
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketing_app.api.errors import error_body
from ticketing_app.domain.identity import issue_buyer_token, new_buyer_id, verify_buyer_token
from ticketing_app.observability import metrics
from ticketing_app.observability.tracing import current_trace_id, extract_context, tracer
from ticketing_app.settings import get_settings

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# JSON answers never need to load anything; the API docs page (Swagger UI from its CDN) and the
# pages get CONTENT_SECURITY_POLICY instead.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
API_PATHS = ("/api/", "/actuator", "/metrics")
DOCS_PATHS = ("/api/docs", "/api/openapi.json")


def security_headers(scope: Scope) -> list[tuple[str, str]]:
    """The headers every answer gets: the fixed ones, a Content-Security-Policy by kind of
    answer, and HSTS when the request came over https (the scheme a trusted proxy forwarded)."""
    settings = get_settings()
    path = scope.get("path", "")
    headers = list(SECURITY_HEADERS.items())
    api = path.startswith(API_PATHS) and not path.startswith(DOCS_PATHS)
    csp = API_CSP if api else settings.content_security_policy
    if csp:
        headers.append(("Content-Security-Policy", csp))
    if settings.hsts_max_age_s > 0 and scope.get("scheme") == "https":
        headers.append(("Strict-Transport-Security",
                        f"max-age={settings.hsts_max_age_s}; includeSubDomains"))
    return headers


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class TraceMiddleware:
    """Starts (or continues, from `traceparent`) a span for each HTTP request."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        ctx = extract_context(headers) if "traceparent" in headers else None
        method = scope.get("method", "GET")
        path = scope.get("path", "")
        start = time.perf_counter()
        status_holder = {"status": 500}
        with tracer().start_as_current_span(f"{method} {path}", context=ctx,
                                            kind=trace.SpanKind.SERVER) as span:
            trace_id = current_trace_id()

            async def send_wrapper(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_holder["status"] = message["status"]
                    h = MutableHeaders(scope=message)
                    h["Trace-Id"] = trace_id
                    for k, v in security_headers(scope):
                        h.setdefault(k, v)
                await send(message)

            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                span.set_attribute("http.status_code", status_holder["status"])
                if path.startswith(("/api", "/actuator")):
                    metrics.HTTP_LATENCY.labels(method, _route_template(scope),
                                                str(status_holder["status"])).observe(
                        time.perf_counter() - start)


class BodyLimitMiddleware:
    """Refuses bodies over MAX_REQUEST_BYTES with the standard error body (413)."""

    def __init__(self, app: ASGIApp, limit: int | None = None):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/api"):
            await self.app(scope, receive, send)
            return
        limit = self.limit or get_settings().max_request_bytes
        for k, v in scope.get("headers", []):
            if k == b"content-length" and v.isdigit() and int(v) > limit:
                await _send_json(send, 413, error_body(
                    "PAYLOAD_TOO_LARGE", f"Request body over {limit} bytes."))
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return msg

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await _send_json(send, 413, error_body(
                "PAYLOAD_TOO_LARGE", f"Request body over {limit} bytes."))


class _TooLarge(HTTPException):
    """Raised from `receive` while the app reads the body. An HTTPException, so FastAPI's body
    parsing passes it on (anything else there becomes a 400) and the error handler answers
    413 with the standard body; the middleware answers itself if nobody did."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body over {limit} bytes.")


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    import json

    raw = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(raw)).encode())]})
    await send({"type": "http.response.body", "body": raw})


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
