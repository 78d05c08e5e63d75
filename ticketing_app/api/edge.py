"""The one request layer: everything every request needs, done once, in one pure ASGI app,
with nothing per request that can be done once at start.

Per request: the client's address (X-Forwarded-For / -Proto believed only from
FORWARDED_ALLOW_IPS), the trace (`Trace-Id`, W3C `traceparent`; a recorded span only when
spans are exported), security headers, and for the API: CORS for the allowed origins, the body
size limit, latency metrics and the standard error body for anything a route raises. Then it
dispatches: the hot routes (`api/hot_routes.py`: holding and releasing seats) are answered
right here; other API paths go to FastAPI's router (which also documents the hot ones in the
OpenAPI); everything else (pages, the websocket, Reflex's own endpoints) goes to the pages app
behind the buyer cookie and the admin page guard.

In the web process the Reflex app wraps its routes in layers of its own (a lifespan app,
request contexts, CORS for pages): `FastLane` sends API requests straight here, so a refusal
crosses one layer instead of a dozen.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketing_app.api.admin_auth import AdminPageGuardMiddleware
from ticketing_app.api.buyer_cookie import BuyerCookieMiddleware
from ticketing_app.api.errors import error_body, exception_answer
from ticketing_app.domain.errors import DomainError
from ticketing_app.domain.network import TrustedProxies
from ticketing_app.observability import metrics
from ticketing_app.observability.tracing import request_context
from ticketing_app.settings import Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ticketing_app.bootstrap import Runtime

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
CORS_METHODS = ("GET", "POST", "PUT", "DELETE")
CORS_HEADERS = ("content-type", "x-caller-id", "idempotency-key", "traceparent",
                "x-admission-token", "last-event-id")
CORS_EXPOSE = "Trace-Id, Retry-After"
CORS_MAX_AGE = "600"
JSON = (b"content-type", b"application/json")


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith(API_PATHS)


def security_headers(settings: Settings, api: bool, https: bool) -> list[tuple[bytes, bytes]]:
    """The headers every answer gets: the fixed ones, a Content-Security-Policy by kind of
    answer, and HSTS when the request came over https (the scheme a trusted proxy forwarded)."""
    headers = list(SECURITY_HEADERS.items())
    csp = API_CSP if api else settings.content_security_policy
    if csp:
        headers.append(("Content-Security-Policy", csp))
    if https and settings.hsts_max_age_s > 0:
        headers.append(("Strict-Transport-Security",
                        f"max-age={settings.hsts_max_age_s}; includeSubDomains"))
    return [(k.lower().encode(), v.encode()) for k, v in headers]


class _TooLarge(HTTPException):
    """Raised from `receive` while the app reads the body. An HTTPException, so FastAPI's body
    parsing passes it on (anything else there becomes a 400) and the error handler answers
    413 with the standard body; the layer answers itself if nobody did."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body over {limit} bytes.")


class HotRequest:
    """What a hot route reads of a request, parsed once."""

    __slots__ = ("body", "client", "headers", "params", "scope")

    def __init__(self, scope: Scope, headers: dict[bytes, bytes], client: str,
                 params: tuple[str, ...], body: bytes):
        self.scope, self.headers, self.client, self.params, self.body = \
            scope, headers, client, params, body

    def header(self, name: bytes) -> str | None:
        v = self.headers.get(name)
        return v.decode("latin-1") if v is not None else None


# A hot route answers (status, JSON-able body or None) or FALLBACK: FastAPI's route for the same
# path then handles the request (with the body already read), for anything unusual (invalid
# input): its validation and error details stay the one definition.
FALLBACK: tuple[int, Any] = (0, None)


def refusal(exc: DomainError) -> tuple[int, Any]:
    """A hot route's answer for a refusal it was handed rather than raised: the same status
    and body as raising it (one that carries headers, such as Retry-After, is raised)."""
    if exc.headers is not None:
        raise exc
    return exc.status, error_body(exc.code, exc.message, exc.details)


HotHandler = Callable[["Runtime", HotRequest], Awaitable[tuple[int, Any]]]
HotMatcher = Callable[[str, str], tuple[HotHandler, str, tuple[str, ...]] | None]
# A long-lived stream (the seat stream, api/seat_stream.py): the matcher gives the event id of
# a request it serves, the handler serves it for as long as the client reads.
StreamMatcher = Callable[[str, str], int | None]
StreamHandler = Callable[["Runtime", int, Scope, Receive, Send, dict[bytes, bytes]],
                         Awaitable[None]]
STREAM = "stream"  # the route label of streams: their duration is no request latency


class Edge:
    def __init__(self, api: FastAPI, router: ASGIApp, hot: HotMatcher | None = None,
                 settings: Settings | None = None,
                 stream: tuple[StreamMatcher, StreamHandler] | None = None,
                 hot_guarded: frozenset[str] = frozenset()):
        """`api`: the FastAPI app (its dependency overrides); `router`: what serves its routes
        (FastAPI without this layer). Until `wrap` puts the layer in front of pages, everything
        else (lifespan included) goes to the router too: the standalone API answers 404 (an
        admin page without a session: the same redirect to the login page as the web app).
        `stream`: the seat stream, served here outside the shedding below (it has a cap of
        its own, SSE_MAX_CLIENTS). `hot_guarded`: the templates of the hot routes that write
        to the database, counted in flight and shed like FastAPI's routes."""
        self.api = api
        self.router = router
        self.pages: ASGIApp = router
        self.wrap(router)
        self.hot = hot
        self.hot_guarded = hot_guarded
        self.stream = stream
        s = settings or get_settings()
        self.settings = s
        self.limit = s.max_request_bytes
        # API requests of this process in FastAPI's routes and the hot routes that write
        # (the database-bound ones); the other hot routes are never shed.
        self.max_inflight = s.api_max_inflight
        self.inflight = 0
        self.proxies = TrustedProxies(s.forwarded_allow_ips)
        self.origins = frozenset(s.browser_origins())
        self.headers = {(api, https): security_headers(s, api, https)
                        for api in (True, False) for https in (True, False)}
        self._latency: dict[tuple[str, str, int], Any] = {}
        self._rt: tuple[Any, Runtime] | None = None

    def wrap(self, pages: ASGIApp) -> Edge:
        """Puts this layer in front of the pages app (Reflex's `api_transformer` calls it):
        page loads get the buyer cookie and, under /admin, the session guard."""
        self.pages = BuyerCookieMiddleware(AdminPageGuardMiddleware(pages))
        return self

    # ---- the runtime (honours a test's dependency override) -------------------------------
    async def runtime(self) -> Runtime:
        # A runtime belongs to its loop (tests run one loop after another). The cached one is
        # kept while its loop is open, rather than compared with the running loop: on Python
        # 3.11 asking for the running loop costs a getpid() system call, a few percent of a
        # refusal's CPU under the original's load (py-spy, 1000 VUs).
        if self._rt is not None and not self._rt[0].is_closed():
            return self._rt[1]
        loop = asyncio.get_running_loop()
        from ticketing_app.api import deps

        provider = (self.api.dependency_overrides.get(deps.runtime, deps.runtime)
                    if self.api is not None else deps.runtime)
        rt = provider()
        if inspect.isawaitable(rt):
            rt = await rt
        self._rt = (loop, rt)
        return rt

    # ---- one request --------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.pages(scope, receive, send)  # lifespan, the websocket
            return
        start = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        headers = dict(scope["headers"])
        client = self._client(scope, headers)
        https = scope.get("scheme") == "https"
        api = is_api_path(path)
        origin = headers.get(b"origin") if api else None  # pages: Reflex's own CORS
        cors = self._cors(origin) if origin is not None else None
        extra = [*self.headers[(api and not path.startswith(DOCS_PATHS), https)],
                 *(cors or ())]
        status = 500
        traceparent = headers.get(b"traceparent")
        with request_context(f"{method} {path}", traceparent.decode("latin-1")
                             if traceparent else None) as (trace_id, span):
            tid = trace_id.encode()
            started = False

            async def send_with_headers(message: Message) -> None:
                nonlocal status, started
                if message["type"] == "http.response.start":
                    started = True
                    status = message["status"]
                    message["headers"] = [*message.get("headers", ()), (b"trace-id", tid),
                                          *extra]
                await send(message)

            try:
                if origin is not None and method == "OPTIONS" and \
                        b"access-control-request-method" in headers:
                    await self._preflight(headers, cors, send_with_headers)
                    route = "preflight"
                elif not api:
                    await self.pages(scope, receive, send_with_headers)
                    route = "page"
                else:
                    route = await self._dispatch(scope, receive, send_with_headers, headers,
                                                 client, method, path)
            except Exception as exc:
                route = _route_template(scope)
                if started:
                    raise
                await self._answer_exception(exc, send_with_headers)
            span.set_attribute("http.status_code", status)
        if api and route != STREAM:
            self._observe(method, route, status, time.perf_counter() - start)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send,
                        headers: dict[bytes, bytes], client: str, method: str, path: str,
                        ) -> str:
        """Returns the route template (the metrics' label)."""
        if self.stream is not None and (event_id := self.stream[0](method, path)) is not None:
            # Long-lived, and no database work after its start: never counted as in flight.
            await self.stream[1](await self.runtime(), event_id, scope, receive, send, headers)
            return STREAM
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _send_json(send, 413, error_body(
                "PAYLOAD_TOO_LARGE", f"Request body over {self.limit} bytes."))
            return "too-large"
        receive = receive if length is not None else self._limited(receive)
        hit = self.hot(method, path) if self.hot is not None else None
        counted = False
        try:
            if hit is not None:
                handler, template, params = hit
                if template in self.hot_guarded:
                    if self.inflight >= self.max_inflight:
                        return await _shed(send)
                    self.inflight += 1
                    counted = True
                body = await _read_body(receive)
                answer = await handler(await self.runtime(), HotRequest(
                    scope, headers, client, params, body))
                if answer is not FALLBACK:
                    code, payload = answer
                    await _send_json(send, code, payload)
                    return template
                receive = _replay(body, receive)
            if not counted:
                if self.inflight >= self.max_inflight:
                    return await _shed(send)
                self.inflight += 1
                counted = True
            await self.router(scope, receive, send)
        finally:
            if counted:
                self.inflight -= 1
        return _route_template(scope)

    def _client(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        peer = scope.get("client")
        host = peer[0] if peer else ""
        if host and self.proxies.trusted(host):
            fwd = headers.get(b"x-forwarded-for")
            if fwd:
                real = self.proxies.client(fwd.decode("latin-1"))
                if real:
                    host = real
                    scope["client"] = (real, 0)
            proto = headers.get(b"x-forwarded-proto")
            if proto:
                scope["scheme"] = proto.decode("latin-1").split(",")[0].strip().lower()
        return host

    def _limited(self, receive: Receive) -> Receive:
        """Counts a body sent without Content-Length while it is read."""
        limit, received = self.limit, 0

        async def limited() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return msg

        return limited

    # ---- CORS ---------------------------------------------------------------------------
    def _cors(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        """The CORS headers of an answer to this origin (none for an origin not allowed)."""
        if origin.decode("latin-1").lower() not in self.origins:
            return []
        return [(b"access-control-allow-origin", origin), (b"vary", b"Origin"),
                (b"access-control-expose-headers", CORS_EXPOSE.encode())]

    async def _preflight(self, headers: dict[bytes, bytes],
                         cors: list[tuple[bytes, bytes]] | None, send: Send) -> None:
        wanted = headers.get(b"access-control-request-method", b"").decode("latin-1").upper()
        asked = [h.strip().lower() for h in headers.get(
            b"access-control-request-headers", b"").decode("latin-1").split(",") if h.strip()]
        refused = ("origin" if not cors else "method" if wanted not in CORS_METHODS else
                   "headers" if any(h not in CORS_HEADERS for h in asked) else "")
        if refused:
            await _send_json(send, 400, error_body(
                "BAD_REQUEST", f"Cross-origin request refused (its {refused})."))
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"access-control-allow-methods", ", ".join(CORS_METHODS).encode()),
            (b"access-control-allow-headers", ", ".join(CORS_HEADERS).encode()),
            (b"access-control-max-age", CORS_MAX_AGE.encode()),
            (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    # ---- answers ------------------------------------------------------------------------
    async def _answer_exception(self, exc: Exception, send: Send) -> None:
        if isinstance(exc, _TooLarge):
            await _send_json(send, 413, error_body("PAYLOAD_TOO_LARGE", str(exc.detail)))
            return
        status, body, headers = exception_answer(exc)
        await _send_json(send, status, body, headers)

    def _observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._latency.get(key)
        if child is None:
            child = metrics.HTTP_LATENCY.labels(method, route, str(status))
            self._latency[key] = child
        child.observe(seconds)


class FastLane:
    """The web process's ASGI app: API requests go straight to the request layer; everything
    else (pages, the websocket, lifespan) through Reflex's own layers, which reach the same
    request layer inside (`api_transformer`)."""

    def __init__(self, reflex_app: ASGIApp, edge: Edge):
        self.reflex_app = reflex_app
        self.edge = edge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_api_path(scope["path"]):
            await self.edge(scope, receive, send)
        else:
            await self.reflex_app(scope, receive, send)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        msg = await receive()
        if msg["type"] != "http.request":
            break
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, once more, for the router; then the connection's own events."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _shed(send: Send) -> str:
    """Shed, never queue: a dependency is slow and requests pile up behind it."""
    await _send_json(send, 503, error_body(
        "SERVICE_UNAVAILABLE", "Too busy right now; retry in a moment."),
        {"Retry-After": "1"})
    return "shed"


async def _send_json(send: Send, status: int, body: Any,
                     headers: dict[str, str] | None = None) -> None:
    raw = b"" if body is None else orjson.dumps(body)
    out = [(b"content-length", str(len(raw)).encode())]
    if body is not None:
        out.append(JSON)
    if headers:
        out += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": raw})
