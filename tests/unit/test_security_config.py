"""Browser-facing security of the API app and the settings that guard secrets: security headers
(CSP, HSTS behind https), CORS restricted to configured origins, the request size limit, 405
with Allow, and refusing unsafe production settings. The app runs through ASGI, no services
(these paths never touch the runtime)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from ticketing_app.api.app import create_api
from ticketing_app.settings import (
    DEFAULT_PAGE_CSP,
    DEV_SECRET,
    Settings,
    local_secret,
    reset_settings_cache,
)

AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[AppFactory]:
    """An API app built with the given environment (kept while the test sends requests)."""
    def build(**env: str) -> FastAPI:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("APP_ENV", "test")
        reset_settings_cache()
        return create_api()

    yield build
    monkeypatch.undo()
    reset_settings_cache()


def client(app: FastAPI, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(peer, 40000)),
                             base_url="http://testserver")


def assert_standard_error(r: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code and body["message"]
    assert body["traceId"] == r.headers["Trace-Id"]  # empty here: no tracer in unit tests
    return dict(body)


async def test_security_headers_on_api_answers_and_pages(make_app: AppFactory) -> None:
    app = make_app()
    async with client(app) as c:
        api = await c.get("/actuator/health/liveness")
        page = await c.get("/some/page")  # not an API path: what a page answer gets
        docs = await c.get("/api/docs")
    for r in (api, page, docs):
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in r.headers  # plain http
    assert api.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert page.headers["Content-Security-Policy"] == DEFAULT_PAGE_CSP
    assert "frame-ancestors 'none'" in DEFAULT_PAGE_CSP
    # Swagger UI loads its scripts from a CDN: the docs page gets the page policy.
    assert docs.status_code == 200 and docs.headers["Content-Security-Policy"] == DEFAULT_PAGE_CSP


async def test_hsts_only_when_the_request_came_over_https(make_app: AppFactory) -> None:
    app = make_app(FORWARDED_ALLOW_IPS="10.0.0.1", HSTS_MAX_AGE_S="600")
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    async with client(app, "10.0.0.1") as via_proxy, client(app, "10.9.9.9") as untrusted:
        https = await via_proxy.get("/actuator/health/liveness", headers=headers)
        spoofed = await untrusted.get("/actuator/health/liveness", headers=headers)
        plain = await via_proxy.get("/actuator/health/liveness")
    assert https.headers["Strict-Transport-Security"] == "max-age=600; includeSubDomains"
    assert "Strict-Transport-Security" not in spoofed.headers  # not from a trusted proxy
    assert "Strict-Transport-Security" not in plain.headers


async def test_page_policy_is_configurable(make_app: AppFactory) -> None:
    app = make_app(CONTENT_SECURITY_POLICY="default-src 'self'")
    async with client(app) as c:
        assert (await c.get("/x")).headers["Content-Security-Policy"] == "default-src 'self'"
    app = make_app(CONTENT_SECURITY_POLICY="")
    async with client(app) as c:
        assert "Content-Security-Policy" not in (await c.get("/x")).headers


async def test_cors_allows_the_public_site_and_configured_origins_only(
    make_app: AppFactory,
) -> None:
    app = make_app(PUBLIC_URL="https://tickets.example", CORS_ORIGINS="https://partner.example")
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type,x-caller-id"}
    async with client(app) as c:
        for origin in ("https://tickets.example", "https://partner.example"):
            r = await c.options("/api/reservations", headers={"Origin": origin, **preflight})
            assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == origin
            r = await c.get("/actuator/health/liveness", headers={"Origin": origin})
            assert r.headers["Access-Control-Allow-Origin"] == origin
            assert "Trace-Id" in r.headers["Access-Control-Expose-Headers"]
        evil = "https://evil.example"
        r = await c.options("/api/reservations", headers={"Origin": evil, **preflight})
        assert r.status_code == 400 and "Access-Control-Allow-Origin" not in r.headers
        r = await c.get("/actuator/health/liveness", headers={"Origin": evil})
        assert "Access-Control-Allow-Origin" not in r.headers


def test_no_wildcard_origin_anywhere() -> None:
    with pytest.raises(ValueError, match="CORS_ORIGINS"):
        Settings(app_env="test", cors_origins="https://a.example,*")
    s = Settings(app_env="test", public_url="http://localhost:3000")
    assert s.browser_origins() == ["http://localhost:3000", "http://127.0.0.1:3000"]
    # The web app hands the same list to Reflex (its CORS layer and the websocket's origin
    # check), whose default would be "*".
    import rxconfig

    assert "*" not in rxconfig.config.cors_allowed_origins
    assert list(rxconfig.config.cors_allowed_origins) == \
        Settings().browser_origins()


async def test_oversized_bodies_get_413_with_the_standard_body(make_app: AppFactory) -> None:
    app = make_app(MAX_REQUEST_BYTES="1000")
    big = b'{"eventId": 1, "seatIds": [' + b"1," * 600 + b"1]}"
    async with client(app) as c:
        r = await c.post("/api/reservations", content=big,
                         headers={"Content-Type": "application/json", "X-Caller-Id": "a"})
        assert_standard_error(r, 413, "PAYLOAD_TOO_LARGE")

        async def chunks() -> object:  # no Content-Length: counted while it is read
            for _ in range(20):
                yield b" " * 100

        r = await c.post("/api/reservations", content=chunks(),  # type: ignore[arg-type]
                         headers={"Content-Type": "application/json", "X-Caller-Id": "a"})
        assert_standard_error(r, 413, "PAYLOAD_TOO_LARGE")


async def test_wrong_method_is_405_with_allow(make_app: AppFactory) -> None:
    async with client(make_app()) as c:
        r = await c.put("/api/reservations/1/mine")
        assert_standard_error(r, 405, "METHOD_NOT_ALLOWED")
        assert r.headers["Allow"] == "GET"
        assert_standard_error(await c.get("/api/nothing/here"), 404, "NOT_FOUND")


def test_production_refuses_unsafe_settings() -> None:
    good = "x" * 64
    Settings(app_env="production", secret_key=good, trust_caller_id=False)
    for bad in (DEV_SECRET, "short-secret"):
        with pytest.raises(ValueError, match="SECRET_KEY"):
            Settings(app_env="production", secret_key=bad, trust_caller_id=False)
    with pytest.raises(ValueError, match="TRUST_CALLER_ID"):
        Settings(app_env="production", secret_key=good, trust_caller_id=True)


def test_development_without_a_secret_generates_one_shared_by_every_process(
    tmp_path: Path,
) -> None:
    s1 = Settings(app_env="development", data_dir=tmp_path)
    s2 = Settings(app_env="development", data_dir=tmp_path)
    assert s1.secret_key != DEV_SECRET and len(s1.secret_key) == 64
    assert s2.secret_key == s1.secret_key == local_secret(tmp_path)
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # readable by its owner only
    # An explicit key always wins; tests keep the fixed development key.
    assert Settings(app_env="development", data_dir=tmp_path, secret_key="k" * 40).secret_key \
        == "k" * 40
    assert Settings(app_env="test", data_dir=tmp_path).secret_key == DEV_SECRET
