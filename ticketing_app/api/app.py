"""The REST API as a FastAPI app whose every request enters through the one request layer
(`api/edge.py`). In the web process that layer also stands in front of the Reflex app
(`api_transformer=api.edge.wrap`); `ticketing api` serves the API alone, for load tools and
tests, with the lifespan `ticketing_app/lifespan.py` gives it."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match
from starlette.types import Lifespan, Receive, Scope, Send

from ticketing_app.api import hot_routes, seat_stream
from ticketing_app.api.edge import Edge
from ticketing_app.api.errors import error_responses, install_error_handlers
from ticketing_app.api.routes import buyers, catalog, health, orders, payments, reservations
from ticketing_app.settings import get_settings


class TicketingAPI(FastAPI):
    """FastAPI, entered through the request layer: `edge` handles every request and calls
    `route` (plain FastAPI) for the API routes it does not answer itself."""

    edge: Edge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.edge(scope, receive, send)

    async def route(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def create_api(lifespan: Lifespan[Any] | None = None) -> TicketingAPI:
    """The REST API: FastAPI's routes behind the one request layer, which also answers the
    hot routes itself. CORS: browsers may call it from PUBLIC_URL's site and CORS_ORIGINS only
    (no wildcard); in the web process Reflex's websocket gets the same list (rxconfig.py).
    `lifespan`: the API alone runs its process's background tasks in it."""
    app = TicketingAPI(
        title="Ticketing API",
        version="1.0",
        description="Seat holds, idempotent orders and payments; the original v1.0 contract.",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
        **_no_native_telemetry(),
    )
    install_error_handlers(app, allowed_methods)
    for r in (catalog.router, reservations.router, orders.router, payments.router,
              buyers.router, health.router):
        app.include_router(r, responses=COMMON_ERRORS)
    _install_extra_routers(app)
    # Settings are read now: a test sets the environment, then builds the app.
    app.edge = Edge(app, app.route, hot=hot_routes.match, settings=get_settings(),
                    stream=(seat_stream.match, seat_stream.serve),
                    hot_guarded=hot_routes.WRITES)
    return app


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Every operation may answer these (invalid input, a dependency down), on top of its own.
COMMON_ERRORS = error_responses(422, 503)


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """The methods some route answers on this path (the `Allow` of a 405), found the way the
    router itself matches (included routers too)."""
    allowed = []
    for method in HTTP_METHODS:
        probe = {**scope, "method": method}
        for route in app.router.routes:
            if route.matches(probe)[0] == Match.FULL:
                allowed.append(method)
                break
    return allowed


def _no_native_telemetry() -> dict[str, Any]:
    """FastAPI >= 0.16x makes its own OpenTelemetry server span once a tracer provider is set;
    ours (TraceMiddleware) already is the request's span and covers the middleware too, so the
    native one would only duplicate it on the hot path."""
    if "telemetry" in inspect.signature(FastAPI).parameters:
        return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    return {}


def _install_extra_routers(app: FastAPI) -> None:
    """Routers added by later features (admin, check-in, waiting room) register here."""
    import importlib

    for module in ("ticketing_app.api.routes.admin", "ticketing_app.api.routes.box_office",
                   "ticketing_app.api.routes.checkins",
                   "ticketing_app.api.routes.waiting_room", "ticketing_app.api.routes.tickets",
                   "ticketing_app.api.routes.best_available",
                   "ticketing_app.api.routes.order_links",
                   "ticketing_app.api.routes.comps"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        app.include_router(mod.router, responses=COMMON_ERRORS)

