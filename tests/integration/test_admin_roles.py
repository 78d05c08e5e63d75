"""Door staff through the admin pages' real websocket: every event handler of every admin
state the app registers (found from the state classes, Reflex's generated setters included)
is refused for door staff, without running, except the check-in page's; the check-in
handlers work for them. The one check is `state/roles.py` (a Reflex middleware)."""

from __future__ import annotations

import asyncio
import json
from contextlib import suppress
from typing import Any

import pytest

from tests.conftest import Env
from tests.integration.admin_helpers import ADMIN_PASSWORD, AdminTab, buy, tickets_of
from ticketing_app.domain import errors
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration

# The check-in page's handlers (state class name, handler): all door staff may run.
CHECK_IN_HANDLERS = {
    ("AdminCheckinState", "load"), ("AdminCheckinState", "check"),
    ("AdminCheckinState", "check_ticket"), ("AdminCheckinState", "search_name"),
    ("AdminCheckinState", "set_gate"), ("AdminDoorState", "load"),
}


@pytest.fixture(scope="module")
def web_url(stack: Stack) -> str:
    """A web process (Reflex backend: websocket and states) on the test stack's services,
    waited for as long as a busy machine needs to start it."""
    import time

    import httpx

    web = stack.procs.get("web") or stack.start_web_backend(name="web", wait=False)
    url = f"http://127.0.0.1:{web.port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if not web.running:
            raise RuntimeError(f"web backend exited: {web.log_path}")
        try:
            if httpx.get(f"{url}/actuator/health/readiness", timeout=2).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"web backend not ready: {web.log_path}")


@pytest.fixture(scope="module")
def admin_handlers() -> dict[str, Any]:
    """Every admin state's event handlers, found outside the event loop (see AdminTab)."""
    from reflex import constants
    from reflex.state import State

    import ticketing_app.pages.admin  # noqa: F401  (registers every admin page and state)
    from ticketing_app.state.admin import OPEN, PAGE, handler_needs
    from ticketing_app.state.roles import admin_states

    handlers = []
    for full, cls in admin_states().items():
        for name, h in cls.event_handlers.items():
            handlers.append({"state": full, "cls": cls.__name__, "name": name,
                             "needs": handler_needs(h.fn)})
    return {"root": State.get_full_name(), "version": constants.Reflex.VERSION,
            "handlers": handlers, "open": OPEN, "page": PAGE}


async def emit(tab: AdminTab, name: str, payload: dict[str, Any]) -> None:
    assert tab._ws is not None
    event = {"name": name, "payload": payload, "router_data": tab._router()}
    await tab._ws.send_str(f'42{tab.NAMESPACE},{json.dumps(["event", event])}')


async def settled(tab: AdminTab) -> None:
    """The tab's own boot (hydrate, then the page's on_load events, refused or not) answers
    first; the walk starts once it has gone quiet, so a late boot delta is not read as the
    answer to the first handler walked."""
    assert await tab.wait_for(lambda: any("delta" in u for u in tab.updates), 60), tab.updates
    seen = -1
    while seen != len(tab.updates):
        seen = len(tab.updates)
        await asyncio.sleep(1.5)


def refusals(tab: AdminTab) -> int:
    return sum(1 for p in tab.redirects() if p.rstrip("/") == "/admin/door")


async def signed_in_door(env: Env, username: str) -> str:
    import httpx

    with suppress(errors.Conflict):
        await env.rt.admin_auth.create_admin(username, ADMIN_PASSWORD, actor="test",
                                             role="door")
    async with httpx.AsyncClient(base_url=env.api_url, timeout=30) as c:
        r = await c.post("/api/admin/login", json={"username": username,
                                                   "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        return f"tk_admin={c.cookies['tk_admin']}"


async def test_door_staff_are_refused_every_admin_handler_but_check_in(
        provider: Env, web_url: str, admin_handlers: dict[str, Any]) -> None:
    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=1, cols=4)
    seats = await env.seat_ids(event_id)
    await buy(env, "door-walk-buyer", event_id, seats[:1])
    ticket_id = int((await tickets_of(env, "door-walk-buyer"))[0]["ticketId"])
    cookie = await signed_in_door(env, "door-ws-walker")
    handlers = admin_handlers["handlers"]
    assert len(handlers) >= 40  # the walk found the app's handlers, setters included
    walked_allowed = set()
    root, version = admin_handlers["root"], admin_handlers["version"]

    # Everything but check-in, from a manager's page: refused before the handler runs.
    async with AdminTab(web_url, f"/admin/events/{event_id}", cookie, root, version) as tab:
        await settled(tab)
        for h in handlers:
            if (h["cls"], h["name"]) in CHECK_IN_HANDLERS or h["needs"] == admin_handlers[
                    "open"]:
                continue
            tab.updates.clear()
            before = refusals(tab)
            await emit(tab, f"{h['state']}.{h['name']}", {})
            refused = await tab.wait_for(lambda b=before: refusals(tab) > b, 30)  # type: ignore[misc]
            assert refused, (h, tab.updates)
            assert not tab.fields(h["state"]) - {"router", "is_hydrated"}, (h, tab.updates)
    # The login page's own handler is open (no session needed), and only that one.
    opened = [(h["cls"], h["name"]) for h in handlers if h["needs"] == admin_handlers["open"]]
    assert opened == [("AdminLoginState", "load")]

    # The check-in page's handlers run for door staff (each changes what it should).
    checkin = next(h["state"] for h in handlers if h["cls"] == "AdminCheckinState")
    guard = next(h["state"] for h in handlers if h["name"] == "guard")
    calls: list[tuple[str, str, dict[str, Any], str]] = [
        (guard, "guard", {}, "admin_role"),
        (checkin, "load", {}, "title"),
        (checkin, "set_gate", {"value": "North"}, "gate"),
        (checkin, "search_name", {"form": {"q": "nobody"}}, "searched"),
        (checkin, "check", {"form": {"code": "not-a-code"}}, "result"),
        (checkin, "check_ticket", {"ticket_id": ticket_id}, "result"),
    ]
    async with AdminTab(web_url, f"/admin/events/{event_id}/checkin", cookie, root,
                        version) as tab:
        await settled(tab)
        for state, name, payload, field in calls:
            tab.updates.clear()
            await emit(tab, f"{state}.{name}", payload)
            assert await tab.wait_for(lambda s=state, f=field: f in tab.fields(s), 30), (
                name, tab.updates)
            assert refusals(tab) == 0, (name, tab.updates)
            walked_allowed.add(name)
    door = next(h["state"] for h in handlers if h["cls"] == "AdminDoorState")
    async with AdminTab(web_url, "/admin/door", cookie, root, version) as tab:
        await settled(tab)
        tab.updates.clear()
        await emit(tab, f"{door}.load", {})
        assert await tab.wait_for(lambda: "events" in tab.fields(door), 30), tab.updates
        assert refusals(tab) == 0
    assert {n for _c, n in CHECK_IN_HANDLERS} <= walked_allowed | {"load"}
