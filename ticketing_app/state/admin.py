"""The base of every admin page state: who is signed in.

The admin session cookie is HttpOnly, so the browser's code never sees it; the server reads it
from the websocket handshake (as the buyer state does) and checks the session in the database
on every admin event, so a logout or an expired session takes effect at the next click. No
secret is ever a state var: the page only learns the admin's name. Background loops (the
dashboard's refresh, the cancellation job's watcher) check it again on every round, before
they read anything (`admin_of`), and send the tab to the login page when it is gone.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import reflex as rx
import structlog

from ticketing_app import routes
from ticketing_app.bootstrap import get_runtime
from ticketing_app.domain.errors import DomainError
from ticketing_app.domain.network import origin_allowed
from ticketing_app.domain.roles import Capability
from ticketing_app.i18n import _
from ticketing_app.services.admin_auth import AdminIdentity

log = structlog.get_logger(__name__)

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])  # i18n: ignore
AnyHandler = TypeVar("AnyHandler", bound=Callable[..., Any])  # i18n: ignore
# What an admin handler needs (domain/roles.py), read by the one check every admin event
# passes first (`state/roles.py`). A handler without a mark needs MANAGE.
CAPABILITY_ATTR = "_admin_capability"
OPEN = "open"  # the login page's own handlers: no session needed
PAGE = "page"  # an on_load guard: what the page being loaded needs


def needs(capability: Capability | str) -> Callable[[AnyHandler], AnyHandler]:
    """Declares what a handler needs (put it under `@rx.event`): `Capability.CHECK_IN` for
    the check-in page's handlers, `OPEN` or `PAGE` for the two special cases above."""

    def mark(fn: AnyHandler) -> AnyHandler:
        setattr(fn, CAPABILITY_ATTR, str(capability))
        return fn

    return mark


def handler_needs(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, CAPABILITY_ATTR, Capability.MANAGE.value))


def path_id(path: str, after: str = "events") -> int:
    """`/admin/events/42/dashboard` -> 42."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    for i, p in enumerate(parts[:-1]):
        if p == after and parts[i + 1].isdigit():
            return int(parts[i + 1])
    return 0


async def admin_of(headers: Any) -> AdminIdentity | None:
    """The admin behind a websocket's handshake headers (`router.headers`): a live session in
    its cookie, on a page of our own site. Background loops keep the headers and ask again each
    round, outside the state lock."""
    rt = await get_runtime()
    scheme = "https" if rt.settings.public_url.startswith("https") else "http"
    sites = [rt.settings.public_url, *rt.settings.cors_origins]
    if not origin_allowed(sites, {"origin": headers.origin, "host": headers.host}, scheme):
        return None  # a websocket opened from another site carries no admin rights
    return await rt.admin_auth.identify_cookie_header(headers.cookie)


class AdminState(rx.State):
    admin_name: str = ""
    admin_role: str = ""
    authed: bool = False
    _actor: str = ""

    async def _identity(self) -> AdminIdentity | None:
        return await admin_of(self.router.headers)

    def _to_login(self) -> Any:
        self.authed, self.admin_name = False, ""
        return rx.redirect(routes.admin_login_url(self.router.url.path))

    def _signed_in(self, who: AdminIdentity) -> None:
        self.authed, self.admin_name, self._actor = True, who.username, who.username
        self.admin_role = who.role

    @rx.event
    @needs(PAGE)
    async def guard(self) -> Any:
        """First on_load of every admin page (the role check ran before it: a page door
        staff may not open never gets here for them)."""
        who = await self._identity()
        if who is None:
            return self._to_login()
        self._signed_in(who)
        return None


def admin_only(fn: Handler) -> Handler:
    """Access control for admin event handlers: no live session, no action (a redirect to
    the login page instead); a refused operation becomes an error toast with its message."""

    @functools.wraps(fn)
    async def handler(self: AdminState, *args: Any, **kwargs: Any) -> Any:
        who = await self._identity()
        if who is None:
            return self._to_login()
        self._signed_in(who)
        try:
            return await fn(self, *args, **kwargs)
        except DomainError as exc:
            return rx.toast.error(exc.message, duration=8000)

    return handler  # type: ignore[return-value]


def refusal_message() -> str:
    return _("Door staff may only check tickets in.")
