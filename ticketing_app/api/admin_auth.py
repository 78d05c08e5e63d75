"""Admin authentication for HTTP: the session cookie, the origin check, the dependency that
every admin route uses, and the middleware that keeps admin pages from anyone not signed in.

CSRF: the cookie is SameSite=Strict (a cross-site request does not carry it) and every
state-changing admin request whose Origin (or Referer) names another site is refused.
Requests with neither header come from non-browser clients, which cannot be made to send a
victim's cookie. Login attempts are limited per client address and per username (counted
before the password is checked: services/admin_auth.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ticketing_app.api.deps import RuntimeDep
from ticketing_app.bootstrap import Runtime
from ticketing_app.domain import errors
from ticketing_app.domain.network import origin_allowed
from ticketing_app.domain.roles import Capability
from ticketing_app.routes import admin_login_url
from ticketing_app.services.admin_auth import AdminIdentity
from ticketing_app.settings import Settings, get_settings

ADMIN_PREFIX = "/admin"
LOGIN_PAGE = "/admin/login"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def admin_sites(settings: Settings) -> list[str]:
    """The sites whose pages may change things in the admin area."""
    return [settings.public_url, *settings.cors_origins]


def check_origin(request: Request) -> None:
    if request.method in UNSAFE_METHODS and not origin_allowed(
            admin_sites(get_settings()), {k.lower(): v for k, v in request.headers.items()},
            request.url.scheme):
        raise errors.Forbidden("Cross-site request refused.")


def session_token(rt: Runtime, request: Request) -> str | None:
    return rt.admin_auth.token_from_cookie(request.cookies.get(rt.settings.admin_cookie_name))


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
CAPABILITY_ATTR = "_admin_capability"


def needs(capability: Capability) -> Callable[[Endpoint], Endpoint]:
    """Declares what an admin route needs (under the `@router.get(...)` line). A route
    without it needs MANAGE: a new route is a manager's until declared part of check-in."""

    def mark(fn: Endpoint) -> Endpoint:
        setattr(fn, CAPABILITY_ATTR, capability)
        return fn

    return mark


def route_needs(request: Request) -> Capability:
    endpoint = request.scope.get("endpoint")
    return Capability(getattr(endpoint, CAPABILITY_ATTR, Capability.MANAGE))


async def require_admin(request: Request, rt: RuntimeDep) -> AdminIdentity:
    """Every admin route depends on this (router-level): a live session, a role that allows
    the route (domain/roles.py; door staff: check-in only), and no cross-site writes. The
    one place the role is checked for REST."""
    who = await rt.admin_auth.identify(session_token(rt, request))
    if who is None:
        raise errors.Unauthenticated("Sign in as an admin first.")
    if not who.may(route_needs(request)):
        raise errors.Forbidden("Door staff may only check tickets in.",
                               [{"role": who.role, "needs": route_needs(request).value}])
    check_origin(request)
    return who


AdminDep = Annotated[AdminIdentity, Depends(require_admin)]


def cookie_secure(settings: Settings) -> bool:
    return settings.app_env == "production" or settings.public_url.startswith("https://")


def set_session_cookie(response: Response, rt: Runtime, token: str) -> None:
    response.set_cookie(rt.settings.admin_cookie_name, rt.admin_auth.cookie_value(token),
                        max_age=rt.settings.admin_session_ttl_s, path="/", httponly=True,
                        samesite="strict", secure=cookie_secure(rt.settings))


def clear_session_cookie(response: Response, rt: Runtime) -> None:
    response.delete_cookie(rt.settings.admin_cookie_name, path="/", httponly=True,
                           samesite="strict", secure=cookie_secure(rt.settings))


class AdminPageGuardMiddleware:
    """A page load of /admin/... without a live admin session is answered with a redirect to
    the login page before any page is served (the pages check again on every event)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD") or not (
                path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")) or \
                path.rstrip("/") == LOGIN_PAGE:
            await self.app(scope, receive, send)
            return
        from ticketing_app.bootstrap import get_runtime

        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        rt = await get_runtime()
        who = await rt.admin_auth.identify_cookie_header(headers.get("cookie", ""))
        if who is not None:
            await self.app(scope, receive, send)
            return
        target = admin_login_url(path)
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", target.encode()),
                                (b"cache-control", b"no-store"),
                                (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
