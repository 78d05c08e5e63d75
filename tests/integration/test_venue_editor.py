"""The venue editor against real services: an existing layout is read, changed (a seat added,
a row curved, a row renumbered) and saved through the admin API; the change reaches events
created afterwards while events created before keep their seats; invalid layouts are refused
with every problem listed and write nothing; once an event on the venue sold a seat the
layout is read-only (409); a save over a layout changed meanwhile is refused; each save is
audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from tests.conftest import Env
from tests.integration.admin_helpers import admin_client, buy
from tests.integration.helpers import assert_error
from ticketing_app.db.models import AuditLog, Seat, VenueSeat
from ticketing_app.domain import errors

pytestmark = pytest.mark.integration


async def _venue(c: httpx.AsyncClient, rows: int = 3, cols: int = 5) -> int:
    r = await c.post("/api/admin/venues", json={
        "name": f"Edit Hall {uuid.uuid4().hex[:6]}",
        "sections": [{"name": "Stalls", "rows": rows, "cols": cols}]})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _event(c: httpx.AsyncClient, venue_id: int) -> int:
    r = await c.post("/api/admin/events", json={
        "title": f"Edited night {uuid.uuid4().hex[:6]}",
        "startsAt": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "venueId": venue_id, "status": "ON_SALE",
        "tiers": [{"name": "Standard", "price": 40000}]})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _seats_in(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: s[k] for k in ("section", "r", "c", "x", "y", "features")}
            for s in view["seats"]]


async def _event_seats(env: Env, event_id: int) -> dict[tuple[int, int], tuple[Any, Any]]:
    async with env.rt.db.read_sessions() as s:
        rows = (await s.execute(select(col(Seat.r), col(Seat.c), col(Seat.x), col(Seat.y))
                                .where(col(Seat.event_id) == event_id))).all()
    return {(r, c): (x, y) for r, c, x, y in rows}


async def test_edit_an_existing_venue_and_a_new_event_gets_it(env: Env) -> None:
    async with admin_client(env) as c:
        venue_id = await _venue(c)
        before_event = await _event(c, venue_id)
        view = (await c.get(f"/api/admin/venues/{venue_id}")).json()
        assert view["editable"] is True and view["soldSeats"] == 0
        assert len(view["events"]) == 1 and len(view["seats"]) == 15
        seats = _seats_in(view)
        # Row A curved (ends 0.5 toward the stage), row B numbered 101.. from the right,
        # a sixth seat at the end of row C.
        for s in seats:
            if s["r"] == 1 and s["c"] in (1, 5):
                s["y"] = 0.5
            if s["r"] == 2:
                s["c"] = 106 - s["c"]
        seats.append({"section": "Stalls", "r": 3, "c": 6, "x": 6, "y": 3,
                      "features": ["aisle"]})
        r = await c.put(f"/api/admin/venues/{venue_id}/layout",
                        json={"fingerprint": view["fingerprint"], "seats": seats})
        assert r.status_code == 200, r.text
        saved = r.json()
        assert len(saved["seats"]) == 16 and saved["fingerprint"] != view["fingerprint"]
        after_event = await _event(c, venue_id)
    async with env.rt.db.read_sessions() as db:
        stored = {(v.r, v.c): v for v in (await db.execute(
            select(VenueSeat).where(col(VenueSeat.venue_id) == venue_id))).scalars()}
        audit = (await db.execute(select(AuditLog).where(
            col(AuditLog.target) == f"venue:{venue_id}", col(AuditLog.action) ==
            "venue.layout"))).scalars().one()
    assert stored[(1, 1)].y == 0.5 and stored[(1, 3)].y is None  # at its grid place
    assert stored[(2, 101)].x == 5 and (2, 1) not in stored  # renumbered, not moved
    assert audit.actor == "ops" and audit.details["added"] == 1
    assert audit.details["moved"] >= 2 and audit.details["renumbered"] >= 4
    # The new event copied the edited layout; the event created before kept its own.
    new, old = await _event_seats(env, after_event), await _event_seats(env, before_event)
    assert new[(1, 1)] == (None, 0.5) and (3, 6) in new and (2, 101) in new
    assert len(old) == 15 and old[(1, 1)] == (None, None) and (2, 1) in old
    layout = await env.rt.catalog.layout(after_event, fresh=True)
    corner = next(s for s in layout.seats if (s.r, s.c) == (1, 1))
    assert corner.y == 0.5


@pytest.mark.parametrize("change, message", [
    (lambda seats: [*seats, dict(seats[0])], "duplicate seat"),
    (lambda seats: [{**s, "x": 2.3} if (s["r"], s["c"]) == (1, 1) else s for s in seats],
     "drawn on top of"),
    (lambda seats: [*seats, {**seats[0], "section": "Box"}], "overlaps section"),
    (lambda seats: [{**seats[0], "features": ["wheelchair", "companion"]}, *seats[1:]],
     "both a wheelchair"),
    (lambda seats: [{**seats[0], "features": ["balcony"]}, *seats[1:]], "unknown seat feature"),
    (lambda seats: [], "at least one seat"),
])
async def test_invalid_layouts_are_refused_and_write_nothing(env: Env, change: Any,
                                                             message: str) -> None:
    async with admin_client(env) as c:
        venue_id = await _venue(c, 2, 3)
        view = (await c.get(f"/api/admin/venues/{venue_id}")).json()
        r = await c.put(f"/api/admin/venues/{venue_id}/layout",
                        json={"fingerprint": view["fingerprint"],
                              "seats": change(_seats_in(view))})
        body = assert_error(r, 422, "VALIDATION_FAILED")
        assert message in body["message"] + str(body.get("details")), body
        again = (await c.get(f"/api/admin/venues/{venue_id}")).json()
    assert again["fingerprint"] == view["fingerprint"]


async def test_a_venue_with_a_sold_seat_is_read_only(provider: Env) -> None:
    env = provider
    await env.set_provider_mode("success")
    async with admin_client(env) as c:
        venue_id = await _venue(c, 1, 4)
        event_id = await _event(c, venue_id)
        seat_ids = await env.seat_ids(event_id)
        await buy(env, "venue-edit-buyer", event_id, seat_ids[:1])
        view = (await c.get(f"/api/admin/venues/{venue_id}")).json()
        assert view["editable"] is False and view["soldSeats"] == 1 and view["orders"] == 1
        seats = _seats_in(view)
        seats[0]["y"] = 0.5
        r = await c.put(f"/api/admin/venues/{venue_id}/layout",
                        json={"fingerprint": view["fingerprint"], "seats": seats})
        body = assert_error(r, 409, "CONFLICT")
        assert "can no longer be changed" in body["message"]
        assert (await c.get(f"/api/admin/venues/{venue_id}")).json()["fingerprint"] == \
            view["fingerprint"]
    # The service checks in its own transaction whatever the caller (the page) believes.
    layout = await env.rt.admin.venue_for_edit(venue_id)
    with pytest.raises(errors.Conflict):
        await env.rt.admin.save_venue_layout("test", venue_id, list(layout.seats))


async def test_a_save_over_a_layout_changed_meanwhile_is_refused(env: Env) -> None:
    async with admin_client(env) as c:
        venue_id = await _venue(c, 1, 4)
        view = (await c.get(f"/api/admin/venues/{venue_id}")).json()
        first = _seats_in(view)[:3]
        r = await c.put(f"/api/admin/venues/{venue_id}/layout",
                        json={"fingerprint": view["fingerprint"], "seats": first})
        assert r.status_code == 200, r.text
        r = await c.put(f"/api/admin/venues/{venue_id}/layout",
                        json={"fingerprint": view["fingerprint"], "seats": _seats_in(view)})
        body = assert_error(r, 409, "CONFLICT")
        assert "changed by someone else" in body["message"]
        assert_error(await c.get("/api/admin/venues/99999999"), 404, "NOT_FOUND")
        assert_error(await c.put("/api/admin/venues/99999999/layout",
                                 json={"seats": first}), 404, "NOT_FOUND")
