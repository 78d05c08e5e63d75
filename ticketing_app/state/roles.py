"""The one role check of the admin pages: a Reflex middleware that every event passes before
its handler runs. For a handler of an admin state it finds the session's admin and refuses,
without running the handler, an event the admin's role does not allow (door staff: anything
but check-in), and an event of a tab without a live session (to the login page). Handlers
declare what they need with `state.admin.needs`; an unmarked handler (Reflex's generated
setters too) needs MANAGE, so a new handler is a manager's until declared otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx
from reflex.middleware import Middleware
from reflex.state import StateUpdate
from reflex_base.event import Event

from ticketing_app import routes
from ticketing_app.domain.roles import Capability
from ticketing_app.state.admin import (
    OPEN,
    PAGE,
    AdminState,
    admin_of,
    handler_needs,
    refusal_message,
)


def admin_states() -> dict[str, type[AdminState]]:
    """Every admin state class by its full name (the prefix of its events' names)."""
    out: dict[str, type[AdminState]] = {}
    todo: list[type[AdminState]] = [AdminState]
    while todo:
        cls = todo.pop()
        out[cls.get_full_name()] = cls
        todo.extend(cls.__subclasses__())
    return out


def admin_handler(name: str) -> tuple[type[AdminState], str, Callable[..., Any]] | None:
    """(state class, handler name, function) of an admin state's event, else None."""
    state_name, _, handler = name.rpartition(".")
    cls = admin_states().get(state_name)
    if cls is None:
        return None
    h = cls.event_handlers.get(handler)
    if h is None:
        return None
    return cls, handler, h.fn


def required(fn: Callable[..., Any], page_path: str) -> Capability | None:
    """What running `fn` on `page_path` needs; None for the login page's open handlers."""
    need = handler_needs(fn)
    if need == OPEN:
        return None
    if need == PAGE:
        on_check_in_page = any(routes.route_matches(p, page_path)
                               for p in routes.CHECK_IN_PAGES)
        return Capability.CHECK_IN if on_check_in_page else Capability.MANAGE
    return Capability(need)


class RoleMiddleware(Middleware):
    async def preprocess(self, app: Any, state: Any, event: Event) -> StateUpdate | None:
        found = admin_handler(event.name)
        if found is None:
            return None
        _cls, _name, fn = found
        path = state.router.url.path
        need = required(fn, path)
        if need is None:
            return None
        who = await admin_of(state.router.headers)
        if who is None:
            return StateUpdate(events=Event.from_event_type(
                rx.redirect(routes.admin_login_url(path))))
        if who.may(need):
            return None
        return StateUpdate(events=Event.from_event_type([
            rx.toast.error(refusal_message(), duration=8000),
            rx.redirect(routes.ADMIN_DOOR)]))
