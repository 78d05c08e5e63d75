"""Admin sign-in against the real API process: every admin route refuses anyone not signed
in (routes are enumerated from the app, so a new unprotected route fails here), sessions are
stored hashed and expire, cross-site writes are refused, logins are rate limited."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select, update
from sqlmodel import col

from tests.conftest import Env
from tests.integration.admin_helpers import (
    ADMIN_PASSWORD,
    AdminTab,
    admin_client,
    buy,
    ensure_admin,
)
from tests.integration.helpers import assert_error
from ticketing_app.api.app import create_api
from ticketing_app.api.routes.admin import PUBLIC_PATHS
from ticketing_app.db.models import AdminSession, AuditLog, now_utc
from ticketing_app.stack import Stack

pytestmark = pytest.mark.integration

ADMIN_API_PREFIXES = ("/api/admin", "/api/checkins")


def admin_api_routes() -> list[tuple[str, str]]:
    """(method, path) of every admin API route the app serves, found by walking the app."""
    out = []
    for rc in iter_route_contexts(create_api().router.routes):
        path = getattr(rc, "path", "") or ""
        if path.startswith(ADMIN_API_PREFIXES) and path not in PUBLIC_PATHS:
            out.extend((m, path) for m in sorted(rc.methods or []) if m != "HEAD")
    return out


def fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_the_route_walk_finds_the_admin_api() -> None:
    routes = admin_api_routes()
    assert len(routes) >= 25
    assert ("POST", "/api/checkins") in routes
    assert ("POST", "/api/admin/events/{event_id}/cancel") in routes


async def test_every_admin_route_refuses_without_a_session(env: Env) -> None:
    routes = admin_api_routes()
    bad_cookie = {"tk_admin": "a1.forged-token.forged-signature"}
    async with httpx.AsyncClient(base_url=env.api_url, timeout=30) as anon, \
            httpx.AsyncClient(base_url=env.api_url, timeout=30, cookies=bad_cookie) as forged:
        for method, path in routes:
            for client in (anon, forged):
                r = await client.request(method, fill(path), json={})
                assert_error(r, 401, "UNAUTHENTICATED")
    # A buyer's identity is no admin identity.
    async with env.client("just-a-buyer") as buyer:
        assert_error(await buyer.get("/api/admin/events"), 401, "UNAUTHENTICATED")


async def test_login_session_logout(env: Env) -> None:
    await ensure_admin(env, "alice-admin")
    async with httpx.AsyncClient(base_url=env.api_url, timeout=30) as c:
        assert_error(await c.post("/api/admin/login",
                                  json={"username": "alice-admin", "password": "wrong-pass-1"}),
                     401, "UNAUTHENTICATED")
        assert_error(await c.post("/api/admin/login",
                                  json={"username": "nobody-here", "password": ADMIN_PASSWORD}),
                     401, "UNAUTHENTICATED")
        r = await c.post("/api/admin/login",
                         json={"username": "alice-admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        token = c.cookies["tk_admin"].split(".")[1]
        assert (await c.get("/api/admin/me")).json()["username"] == "alice-admin"
        # Only the token's hash is stored.
        async with env.rt.db.read_sessions() as s:
            ids = set((await s.execute(select(AdminSession.id))).scalars())
        assert hashlib.sha256(token.encode()).hexdigest() in ids and token not in ids
        # A signature that does not match is refused even with a real token inside.
        async with httpx.AsyncClient(base_url=env.api_url, cookies={
                "tk_admin": f"a1.{token}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) as tampered:
            assert_error(await tampered.get("/api/admin/me"), 401, "UNAUTHENTICATED")
        value = c.cookies["tk_admin"]
        r = await c.post("/api/admin/logout", json={})
        assert r.status_code == 204
        assert "tk_admin" not in c.cookies
        c.cookies.set("tk_admin", value)  # the old cookie, replayed, is dead
        assert_error(await c.get("/api/admin/me"), 401, "UNAUTHENTICATED")


async def test_sessions_expire(env: Env) -> None:
    async with admin_client(env, "expiring") as c:
        assert (await c.get("/api/admin/me")).status_code == 200
        token = c.cookies["tk_admin"].split(".")[1]
        async with env.rt.db.write_sessions() as s:
            await s.execute(update(AdminSession).where(
                col(AdminSession.id) == hashlib.sha256(token.encode()).hexdigest())
                .values(expires_at=now_utc() - timedelta(seconds=1)))
            await s.commit()
        assert_error(await c.get("/api/admin/me"), 401, "UNAUTHENTICATED")


async def test_cross_site_writes_are_refused(env: Env) -> None:
    async with admin_client(env) as c:
        r = await c.post("/api/admin/venues/preview",
                         json={"name": "x", "sections": [{"name": "A", "rows": 1, "cols": 1}]},
                         headers={"Origin": "https://evil.example"})
        assert_error(r, 403, "FORBIDDEN")
        r = await c.post("/api/admin/venues/preview",
                         json={"name": "x", "sections": [{"name": "A", "rows": 1, "cols": 1}]},
                         headers={"Origin": env.api_url})
        assert r.status_code == 200, r.text
    async with httpx.AsyncClient(base_url=env.api_url) as c:
        r = await c.post("/api/admin/login", headers={"Origin": "https://evil.example"},
                         json={"username": "ops", "password": ADMIN_PASSWORD})
        assert_error(r, 403, "FORBIDDEN")


async def test_form_login_redirects_and_admin_pages_need_a_session(env: Env) -> None:
    await ensure_admin(env)
    async with httpx.AsyncClient(base_url=env.api_url, follow_redirects=False) as c:
        page = await c.get("/admin/events/3", headers={"Accept": "text/html"})
        assert page.status_code == 303
        assert page.headers["location"] == "/admin/login?next=/admin/events/3"
        r = await c.post("/api/admin/login", data={"username": "ops", "password": "nope-nope",
                                                   "next": "/admin/events"})
        assert r.status_code == 303 and "error=invalid" in r.headers["location"]
        r = await c.post("/api/admin/login", data={"username": "ops", "password": ADMIN_PASSWORD,
                                                   "next": "https://evil.example/x"})
        assert r.status_code == 303 and r.headers["location"] == "/admin"
        page = await c.get("/admin/events/3", headers={"Accept": "text/html"})
        assert page.status_code != 303  # through the guard (the API alone has no pages: 404)


async def test_form_login_sent_before_its_page_loaded_still_goes_where_asked(env: Env) -> None:
    """The login page fills its hidden `next` field once its state has loaded; a sign-in sent
    before that (empty field) goes where the page's own address asked, never off the admin
    area, and a referer that is not the login page changes nothing."""
    await ensure_admin(env)
    base = env.api_url
    async with httpx.AsyncClient(base_url=base, follow_redirects=False) as c:
        for referer, expected in (
                (f"{base}/admin/login?next=/admin/orders", "/admin/orders"),
                (f"{base}/admin/login?next=//evil.example/admin", "/admin"),
                (f"{base}/admin/events?next=/admin/orders", "/admin"),
                (None, "/admin")):
            headers = {"Referer": referer} if referer else {}
            r = await c.post("/api/admin/login", headers=headers,
                             data={"username": "ops", "password": ADMIN_PASSWORD, "next": ""})
            assert r.status_code == 303 and r.headers["location"] == expected, (referer, r)
        # A filled field wins over the address.
        r = await c.post("/api/admin/login",
                         headers={"Referer": f"{base}/admin/login?next=/admin/orders"},
                         data={"username": "ops", "password": ADMIN_PASSWORD,
                               "next": "/admin/venues"})
        assert r.headers["location"] == "/admin/venues"


async def test_login_redirect_encodes_next(env: Env) -> None:
    """The form's redirect back to the login page carries `next` encoded: a path with its own
    query cannot add or override parameters (error, next), and safe_next still applies."""
    await ensure_admin(env)
    wanted = "/admin/events/3?tab=a b&error=rate&next=//evil.example#x"
    async with httpx.AsyncClient(base_url=env.api_url, follow_redirects=False) as c:
        r = await c.post("/api/admin/login", data={"username": "ops", "password": "nope-nope",
                                                   "next": wanted})
        assert r.status_code == 303
        location = r.headers["location"]
        parts = urlsplit(location)
        assert parts.path == "/admin/login" and not parts.fragment, location
        assert parse_qs(parts.query) == {"error": ["invalid"], "next": [wanted]}, location
        r = await c.post("/api/admin/login", data={"username": "ops", "password": "nope-nope",
                                                   "next": "//evil.example/admin"})
        assert parse_qs(urlsplit(r.headers["location"]).query)["next"] == ["/admin"]
    await env.rt.redis.delete(*[k async for k in env.rt.redis.scan_iter("tk:rate:login:*")])


async def test_failed_logins_are_rate_limited(env: Env) -> None:
    await ensure_admin(env, "bruteforced")
    async with httpx.AsyncClient(base_url=env.api_url) as c:
        codes = [(await c.post("/api/admin/login", json={
            "username": "bruteforced", "password": f"guess-{i:06d}"})).status_code
            for i in range(12)]
        assert codes[:10] == [401] * 10 and codes[-1] == 429
        r = await c.post("/api/admin/login",
                         json={"username": "bruteforced", "password": ADMIN_PASSWORD})
        assert_error(r, 429, "RATE_LIMITED")
        assert int(r.headers["Retry-After"]) >= 1
    await env.rt.redis.delete(*[k async for k in env.rt.redis.scan_iter("tk:rate:login:*")])


LOGIN_RACE_CLIENTS = int(os.environ.get("ADMIN_LOGIN_RACE_CLIENTS", "30"))
LOGIN_RACE_ROUNDS = int(os.environ.get("ADMIN_LOGIN_RACE_ROUNDS", "3"))


async def clear_login_counters(env: Env) -> None:
    keys = [k async for k in env.rt.redis.scan_iter("tk:rate:login:*")]
    if keys:
        await env.rt.redis.delete(*keys)


async def test_concurrent_wrong_logins_cannot_pass_the_limit(env: Env) -> None:
    """Many wrong passwords for one username at the same instant: at most the limit's worth
    are even checked (401), every other one is 429 with Retry-After and the standard body."""
    limit = env.rt.settings.admin_login_attempts_per_minute
    assert 0 < limit < LOGIN_RACE_CLIENTS
    await clear_login_counters(env)
    rounds = 0
    try:
        while rounds < LOGIN_RACE_ROUNDS:
            if time.time() % 60 > 55:  # one round inside one one-minute window
                await asyncio.sleep(60 - time.time() % 60 + 0.1)
            window = int(time.time() // 60)
            username = await ensure_admin(env, f"raced-{uuid.uuid4().hex[:8]}")
            async with httpx.AsyncClient(base_url=env.api_url, timeout=60,
                                         limits=httpx.Limits(max_connections=200)) as c:
                answers = await asyncio.gather(*(c.post("/api/admin/login", json={
                    "username": username, "password": f"wrong-guess-{i:06d}"})
                    for i in range(LOGIN_RACE_CLIENTS)))
            if int(time.time() // 60) != window:
                continue  # the window turned during the round: its counts are not one window's
            rounds += 1
            codes = sorted(r.status_code for r in answers)
            assert codes.count(401) <= limit, codes
            assert codes.count(401) + codes.count(429) == LOGIN_RACE_CLIENTS, codes
            for r in answers:
                if r.status_code == 429:
                    assert_error(r, 429, "RATE_LIMITED")
                    assert 1 <= int(r.headers["Retry-After"]) <= 60
                else:
                    assert_error(r, 401, "UNAUTHENTICATED")
            await clear_login_counters(env)  # the address's own limit is not under test
    finally:
        await clear_login_counters(env)


async def test_successful_logins_do_not_use_up_the_limit(env: Env) -> None:
    """An attempt is counted before its check and given back when it succeeds."""
    await clear_login_counters(env)
    username = await ensure_admin(env, f"regular-{uuid.uuid4().hex[:8]}")
    limit = env.rt.settings.admin_login_attempts_per_minute
    async with httpx.AsyncClient(base_url=env.api_url, timeout=30) as c:
        for _ in range(limit + 2):
            r = await c.post("/api/admin/login",
                             json={"username": username, "password": ADMIN_PASSWORD})
            assert r.status_code == 200, r.text
    await clear_login_counters(env)


async def test_admin_accounts_validate_and_bootstrap(env: Env) -> None:
    from ticketing_app.domain import errors

    with pytest.raises(errors.ValidationFailed):
        await env.rt.admin_auth.create_admin("x", "short")
    with pytest.raises(errors.Conflict):
        await ensure_admin(env, "dup-admin")
        await env.rt.admin_auth.create_admin("dup-admin", ADMIN_PASSWORD)
    # Bootstrap only when there is no admin yet.
    assert await env.rt.admin_auth.count_admins() > 0
    assert await env.rt.admin_auth.ensure_bootstrap_admin() is False
    async with env.rt.db.read_sessions() as s:
        actions = set((await s.execute(select(AuditLog.action))).scalars())
    assert {"admin.create", "admin.login"} <= actions


# ---- admin pages' background loops (the Reflex websocket of a real web process) -------------
@pytest.fixture(scope="module")
def web_url(stack: Stack) -> str:
    """A web process (Reflex backend: websocket and states) on the test stack's services."""
    web = stack.procs.get("web") or stack.start_web_backend(name="web")
    url = f"http://127.0.0.1:{web.port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/actuator/health/readiness", timeout=2).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"web backend not ready: {web.log_path}")


@pytest.fixture(scope="module")
def reflex_names() -> dict[str, str]:
    """State names the websocket protocol uses; imported here, outside the event loop (see
    AdminTab)."""
    from reflex import constants
    from reflex.state import State

    from ticketing_app.state.admin_dashboard import AdminDashboardState
    from ticketing_app.state.admin_event import AdminEventState

    return {"root": State.get_full_name(), "version": constants.Reflex.VERSION,
            "event": AdminEventState.get_full_name(),
            "dashboard": AdminDashboardState.get_full_name()}


async def signed_in_cookie(env: Env, username: str) -> tuple[httpx.AsyncClient, str]:
    await ensure_admin(env, username)
    c = httpx.AsyncClient(base_url=env.api_url, timeout=30)
    r = await c.post("/api/admin/login", json={"username": username, "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    return c, f"tk_admin={c.cookies['tk_admin']}"


# Not "page": that name is pytest-playwright's fixture, and with the browser tests collected in
# the same session it would drag a browser (and its running event loop) into this test.
@pytest.mark.parametrize("admin_page", ["event", "dashboard"])
async def test_background_admin_loops_stop_at_sign_out(env: Env, web_url: str, admin_page: str,
                                                       provider: Env,
                                                       reflex_names: dict[str, str]) -> None:
    """A tab that loaded as admin and then signed out: its background loop (the cancellation
    job's watcher, the dashboard's refresh) re-checks the session every round, reads nothing
    more and sends the tab to the login page; so does the loop when a client starts it."""
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=1, cols=6)
    seats = await env.seat_ids(event_id)
    loop, path, data = {
        "event": ("watch_job", f"/admin/events/{event_id}", {"orders", "job", "seats", "counts"}),
        "dashboard": ("refresh_loop", f"/admin/events/{event_id}/dashboard",
                      {"stats", "timeline", "updated"}),
    }[admin_page]
    name = reflex_names[admin_page]
    api, cookie = await signed_in_cookie(env, f"looper-{admin_page}")
    async with AdminTab(web_url, path, cookie, reflex_names["root"],
                        reflex_names["version"]) as tab:
        assert await tab.wait_for(lambda: "title" in tab.fields(name), 60), tab.updates
        assert not tab.redirects()
        await buy(env, f"late-buyer-{admin_page}", event_id, seats[:2])  # news the loop would read
        r = await api.post("/api/admin/logout", json={})
        await api.aclose()
        assert r.status_code == 204
        tab.updates.clear()
        await tab.emit(f"{name}.{loop}")
        sent_to_login = await tab.wait_for(
            lambda: any(p.startswith("/admin/login") for p in tab.redirects())
            or bool(tab.fields(name) & data), 30)
        leaked = tab.fields(name) & data
        assert not leaked, f"a signed-out tab still got {sorted(leaked)}"
        assert sent_to_login, tab.updates
