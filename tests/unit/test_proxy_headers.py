"""Behind the load balancer, the API sees the client's address (for per-address rate limits)
only when the balancer is trusted (FORWARDED_ALLOW_IPS)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import Request

from ticketing_app.api.app import create_api
from ticketing_app.settings import reset_settings_cache


@pytest.mark.parametrize(("trusted", "seen"), [("10.0.0.0/8", "203.0.113.9"),
                                               ("127.0.0.1", "10.0.0.5")])
async def test_forwarded_for_is_believed_only_from_trusted_peers(
    monkeypatch: pytest.MonkeyPatch, trusted: str, seen: str,
) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", trusted)
    reset_settings_cache()
    try:
        app = create_api()
    finally:
        monkeypatch.undo()
        reset_settings_cache()

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str]:
        return {"client": request.client.host if request.client else ""}

    transport = httpx.ASGITransport(app=app, client=("10.0.0.5", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://lb") as c:
        r = await c.get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.json() == {"client": seen}
