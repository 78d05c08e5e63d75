"""Venues, events, tiers and sales control through the admin API against real services:
input is validated as a whole (nothing partial is written), changes that would break a sale
are refused with a clear message, and every change reaches Redis and the audit log at once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import Env
from tests.integration.admin_helpers import admin_client, buy
from tests.integration.helpers import assert_error
from ticketing_app.db.models import AuditLog, Event, Seat, Venue, VenueSeat

pytestmark = pytest.mark.integration


async def _count(env: Env, model: Any) -> int:
    async with env.rt.db.read_sessions() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


def _event_body(venue_id: int, **over: Any) -> dict[str, Any]:
    body = {
        "title": f"Night {uuid.uuid4().hex[:6]}", "description": "Two tiers",
        "startsAt": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "venueId": venue_id, "holdDefaultSeconds": 30, "maxSeatsPerBuyer": 6,
        "tiers": [{"name": "Front", "price": 90000, "color": "#ef4444", "rows": [1, 2]},
                  {"name": "Back", "price": 40000, "color": "#3b82f6"}],
    }
    body.update(over)
    return body


async def _venue(c: httpx.AsyncClient, rows: int = 4, cols: int = 6, **section: Any) -> int:
    r = await c.post("/api/admin/venues", json={
        "name": f"Hall {uuid.uuid4().hex[:6]}",
        "sections": [{"name": "Stalls", "rows": rows, "cols": cols, **section}]})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_grid_with_gaps_and_aisles_and_its_preview(env: Env) -> None:
    async with admin_client(env) as c:
        body = {"name": "Grid Hall", "sections": [
            {"name": "Floor", "rows": 3, "cols": 7, "gaps": "A1, C7", "aisleCols": "4"},
            {"name": "Balcony", "rows": 2, "cols": 5, "aisleRows": "2"}]}
        preview = (await c.post("/api/admin/venues/preview", json=body)).json()
        r = await c.post("/api/admin/venues", json=body)
        assert r.status_code == 201, r.text
        created = r.json()
    # Floor: 3 x 7 minus aisle column 4 (3 seats) minus 2 gaps = 16; Balcony: 1 row of 5,
    # stacked under the floor after one empty row.
    assert created["seats"] == preview["seats"] == 21
    pos = {(p["section"], p["r"], p["c"]) for p in created["positions"]}
    assert ("Floor", 1, 1) not in pos and ("Floor", 3, 7) not in pos
    assert not any(c == 4 for s, _, c in pos if s == "Floor")
    assert {r for s, r, _ in pos if s == "Balcony"} == {5}
    assert created["rows"] == 5


@pytest.mark.parametrize("body, message", [
    ({"name": "  ", "sections": [{"name": "A", "rows": 2, "cols": 2}]}, "venue name"),
    ({"name": "V", "sections": [{"name": "", "rows": 2, "cols": 2}]}, "section name"),
    ({"name": "V", "sections": [{"name": "A", "rows": 0, "cols": 2}]}, "between 1 and"),
    ({"name": "V", "sections": [{"name": "A", "rows": 2, "cols": 2, "gaps": "Z9"}]},
     "outside the grid"),
    ({"name": "V", "sections": [{"name": "A", "rows": 2, "cols": 2, "gaps": "??"}]},
     "not a seat position"),
])
async def test_bad_grids_are_refused_and_write_nothing(env: Env, body: dict[str, Any],
                                                       message: str) -> None:
    before = (await _count(env, Venue), await _count(env, VenueSeat))
    async with admin_client(env) as c:
        err = assert_error(await c.post("/api/admin/venues", json=body), 422,
                           "VALIDATION_FAILED")
    assert message in err["message"], err
    assert (await _count(env, Venue), await _count(env, VenueSeat)) == before


@pytest.mark.parametrize("fmt, content, message", [
    ("csv", "section,row,seat\nA,1,1\nA,1,1\n", "duplicate seat"),
    ("csv", "section,row,seat\nA,1,1\n,1,2\n", "section name must not be empty"),
    ("csv", "A,1\n", "expected 3 or 4 values"),
    ("csv", "A,1,-3\n", "seat must be 1 or more"),
    ("csv", "A,x1,2\n", "is not a number or letters"),
    ("json", '{"seats": [{"section": "A", "row": 1, "seat": 1}', "malformed"),
    ("json", '{"rows": 3}', '"seats" list'),
    ("json", '{"seats": [{"section": "A", "row": "B", "seat": 2},'
             ' {"section": "B", "row": 2, "seat": 2}]}', "overlaps section"),
    ("xml", "<venue/>", "Unknown import format"),
])
async def test_malformed_imports_are_refused_and_write_nothing(
        env: Env, fmt: str, content: str, message: str) -> None:
    before = (await _count(env, Venue), await _count(env, VenueSeat))
    async with admin_client(env) as c:
        err = assert_error(await c.post("/api/admin/venues/import", json={
            "name": "Imported", "format": fmt, "content": content}), 422, "VALIDATION_FAILED")
    assert message in err["message"], err
    assert err.get("details"), err
    assert (await _count(env, Venue), await _count(env, VenueSeat)) == before


async def test_csv_and_json_imports(env: Env) -> None:
    csv_text = "section,row,seat\n" + "\n".join(f"Main,{r},{c}" for r in "AB"
                                                for c in range(1, 5))
    layout = {"sections": [{"name": "Left", "rows": 2, "cols": 3},
                           {"name": "Right", "rows": 2, "cols": 3, "gaps": ["A1"]}]}
    async with admin_client(env) as c:
        r = await c.post("/api/admin/venues/import",
                         json={"name": "CSV Hall", "format": "csv", "content": csv_text})
        assert r.status_code == 201, r.text
        assert r.json()["seats"] == 8 and r.json()["rows"] == 2
        r = await c.post("/api/admin/venues/import", json={
            "name": "JSON Hall", "format": "json", "content": json.dumps(layout)})
        assert r.status_code == 201, r.text
        assert r.json()["seats"] == 11


async def test_event_with_two_tiers_and_validation(env: Env) -> None:
    async with admin_client(env) as c:
        venue = await _venue(c)
        events_before = await _count(env, Event)
        for bad, msg in [
            ({"title": " "}, "title must not be empty"),
            ({"tiers": [{"name": "A", "price": -1}]}, "must not be negative"),
            ({"tiers": [{"name": "A", "price": 1}, {"name": "a", "price": 2}]}, "used twice"),
            ({"tiers": [{"name": "", "price": 1}]}, "tier name must not be empty"),
            ({"tiers": [{"name": "A", "price": 1, "color": "red"}]}, "is not like"),
            ({"holdMinSeconds": 60, "holdDefaultSeconds": 30}, "between the minimum"),
            ({"maxSeatsPerBuyer": 0}, "seats per buyer"),
        ]:
            err = assert_error(await c.post("/api/admin/events",
                                            json=_event_body(venue, **bad)),
                               422, "VALIDATION_FAILED")
            assert msg in err["message"], (bad, err)
        assert_error(await c.post("/api/admin/events", json=_event_body(999999)), 422,
                     "VALIDATION_FAILED")
        assert await _count(env, Event) == events_before
        r = await c.post("/api/admin/events", json=_event_body(venue))
        assert r.status_code == 201, r.text
        ev = r.json()
    assert ev["status"] == "DRAFT"
    tiers = {t["name"]: t for t in ev["tiers"]}
    assert tiers["Front"]["seats"] == 12 and tiers["Back"]["seats"] == 12
    async with env.rt.db.read_sessions() as s:
        prices = {(x.r, x.price) for x in (await s.execute(
            select(Seat).where(Seat.event_id == ev["id"]))).scalars()}
    assert prices == {(1, 90000), (2, 90000), (3, 40000), (4, 40000)}
    # Drafts are not on the public list, and nobody can hold a seat of a draft.
    async with env.client("early-bird") as b:
        assert ev["id"] not in [e["id"] for e in (await b.get("/api/events")).json()]
        seat = (await env.seat_ids(ev["id"]))[0]
        assert_error(await b.post("/api/reservations", json={"eventId": ev["id"],
                                                             "seatId": seat}),
                     404, "EVENT_NOT_FOUND")


async def assert_hidden(b: httpx.AsyncClient, eid: int, seat: int, title: str) -> None:
    """Every buyer route that names the event answers as if it did not exist."""
    answers = [
        await b.get(f"/api/events/{eid}"),
        await b.get(f"/api/events/{eid}/seats"),
        await b.post("/api/reservations", json={"eventId": eid, "seatId": seat}),
        await b.post("/api/reservations", json={"eventId": eid, "seatIds": [seat],
                                                "holdSeconds": 30}),
        await b.post("/api/reservations/best", json={"eventId": eid, "quantity": 2}),
        await b.post(f"/api/reservations/{eid}/{seat}/extend", json={"seconds": 30}),
        await b.get(f"/api/reservations/{eid}/mine"),
        await b.post("/api/orders", json={"eventId": eid, "seatIds": [seat]},
                     headers={"Idempotency-Key": uuid.uuid4().hex}),
        await b.post(f"/api/events/{eid}/queue"),
        await b.get(f"/api/events/{eid}/queue"),
        await b.get(f"/api/events/{eid}/queue/challenge"),
    ]
    for r in answers:
        assert_error(r, 404, "EVENT_NOT_FOUND")
        assert title not in r.text
    assert eid not in [e["id"] for e in (await b.get("/api/events")).json()]


async def test_unpublished_events_are_not_found_outside_the_admin_area(env: Env) -> None:
    async with admin_client(env) as c:
        ev = (await c.post("/api/admin/events", json=_event_body(await _venue(c)))).json()
        eid, title = ev["id"], ev["title"]
        seats = await env.seat_ids(eid)
        async with env.client("enumerator") as b:
            await assert_hidden(b, eid, seats[0], title)
            # The release of a seat nobody holds says nothing about the event either.
            assert_error(await b.delete(f"/api/reservations/{eid}/{seats[0]}"),
                         404, "EVENT_NOT_FOUND")
        # The admin area still sees the draft.
        r = await c.get(f"/api/admin/events/{eid}")
        assert r.status_code == 200 and r.json()["title"] == title
        # Published: buyers see it; unpublished again (back to DRAFT): hidden again.
        url = f"/api/admin/events/{eid}/status"
        assert (await c.post(url, json={"status": "ON_SALE"})).status_code == 200
        async with env.client("enumerator") as b:
            r = await b.get(f"/api/events/{eid}")
            assert r.status_code == 200 and r.json()["title"] == title
            assert (await b.get(f"/api/events/{eid}/seats")).status_code == 200
            r = await b.post("/api/reservations", json={"eventId": eid, "seatId": seats[0]})
            assert r.status_code == 201, r.text
        assert (await c.post(url, json={"status": "DRAFT"})).status_code == 200
        async with env.client("someone-else") as b:
            await assert_hidden(b, eid, seats[2], title)
            assert_error(await b.delete(f"/api/reservations/{eid}/{seats[0]}"),
                         404, "EVENT_NOT_FOUND")
        for path in (f"/api/admin/events/{eid}", f"/api/admin/events/{eid}/dashboard"):
            r = await c.get(path)
            assert r.status_code == 200, r.text


async def test_status_changes_reach_buyers_at_once(env: Env) -> None:
    async with admin_client(env) as c:
        ev = (await c.post("/api/admin/events", json=_event_body(await _venue(c)))).json()
        eid = ev["id"]
        seat = (await env.seat_ids(eid))[0]
        url = f"/api/admin/events/{eid}/status"
        assert_error(await c.post(url, json={"status": "CLOSED"}), 409, "CONFLICT")
        assert_error(await c.post(url, json={"status": "CANCELLED"}), 409, "CONFLICT")
        assert_error(await c.post(url, json={"status": "LIVE"}), 422, "VALIDATION_FAILED")
        assert (await c.post(url, json={"status": "ON_SALE"})).json()["status"] == "ON_SALE"
        async with env.client("fan-a") as b:
            r = await b.post("/api/reservations", json={"eventId": eid, "seatId": seat})
            assert r.status_code == 201, r.text
        assert (await c.post(url, json={"status": "CLOSED"})).json()["status"] == "CLOSED"
        async with env.client("fan-b") as b:
            err = assert_error(await b.post("/api/reservations",
                                            json={"eventId": eid, "seatId": seat + 1}),
                               409, "SALES_CLOSED")
            assert "not on sale" in err["message"]
        assert (await c.post(url, json={"status": "ON_SALE"})).status_code == 200
        async with env.rt.db.read_sessions() as s:
            actions = list((await s.execute(select(AuditLog.action).where(
                AuditLog.target == f"event:{eid}"))).scalars())
        assert actions.count("event.status") == 3 and "event.create" in actions
        audit = (await c.get(f"/api/admin/audit?target=event:{eid}")).json()
        assert audit[0]["actor"] == "ops" and audit[0]["at"]


async def test_changes_that_would_break_a_sale_are_refused(provider: Env) -> None:
    env = provider
    await env.set_provider_mode("success")
    async with admin_client(env) as c:
        ev = (await c.post("/api/admin/events",
                           json=_event_body(await _venue(c), status="ON_SALE"))).json()
        eid = ev["id"]
        seats = await env.seat_ids(eid)
        front = next(t for t in ev["tiers"] if t["name"] == "Front")
        # A seat in an order awaiting payment: its price may not change.
        async with env.client("paying-slowly") as b:
            assert (await b.post("/api/reservations",
                                 json={"eventId": eid, "seatId": seats[0]})).status_code == 201
            r = await b.post("/api/orders", json={"eventId": eid, "seatIds": [seats[0]]},
                             headers={"Idempotency-Key": uuid.uuid4().hex})
            assert r.status_code == 201
            open_order = r.json()["orderId"]
        err = assert_error(await c.put(f"/api/admin/events/{eid}/tiers/{front['id']}", json={
            "name": "Front", "price": 95000, "color": "#ef4444"}), 409, "CONFLICT")
        assert "awaiting payment" in err["message"] and f"#{open_order}" in err["message"]
        assert err["details"][0]["seatId"] == seats[0]
        # Renaming without a price change is fine.
        r = await c.put(f"/api/admin/events/{eid}/tiers/{front['id']}",
                        json={"name": "Front row", "price": 90000, "color": "#dc2626"})
        assert r.status_code == 200, r.text
        # A sold seat cannot be removed, nor blocked.
        sold_order = await buy(env, "owner", eid, [seats[10]])
        err = assert_error(await c.post(f"/api/admin/events/{eid}/seats/remove",
                                        json={"seatIds": [seats[10]]}), 409, "CONFLICT")
        assert "Cannot remove sold seats" in err["message"]
        assert err["details"][0]["orderId"] == sold_order
        err = assert_error(await c.post(f"/api/admin/events/{eid}/seats/block",
                                        json={"seatIds": [seats[10]]}), 422,
                           "VALIDATION_FAILED")
        assert "cannot be blocked" in err["message"]
        # Unknown seats are refused before anything is touched.
        assert_error(await c.post(f"/api/admin/events/{eid}/seats/block",
                                  json={"seatIds": [999999]}), 422, "VALIDATION_FAILED")
        # A tier that still prices seats cannot be deleted.
        assert_error(await c.delete(f"/api/admin/events/{eid}/tiers/{front['id']}"), 409,
                     "CONFLICT")


async def test_block_unblock_release_all_and_tiers_by_section(env: Env) -> None:
    async with admin_client(env) as c:
        ev = (await c.post("/api/admin/events",
                           json=_event_body(await _venue(c), status="ON_SALE"))).json()
        eid = ev["id"]
        seats = await env.seat_ids(eid)
        async with env.client("holder-1") as b:
            assert (await b.post("/api/reservations", json={
                "eventId": eid, "seatIds": seats[:2]})).status_code == 201
        r = await c.post(f"/api/admin/events/{eid}/seats/block", json={"seatIds": seats[1:4]})
        assert r.json() == {"changed": 3}
        snap = await env.rt.holds.snapshot(eid)
        assert snap is not None
        assert [snap.public_code(s) for s in seats[:4]] == ["H", "B", "B", "B"]
        async with env.client("holder-2") as b:
            err = assert_error(await b.post("/api/reservations",
                                            json={"eventId": eid, "seatId": seats[2]}),
                               422, "VALIDATION_FAILED")
            assert "not for sale" in err["message"]
        async with env.rt.db.read_sessions() as s:
            blocked = set((await s.execute(select(Seat.id).where(
                Seat.event_id == eid, Seat.status == "BLOCKED"))).scalars())
        assert blocked == set(seats[1:4])
        assert (await c.post(f"/api/admin/events/{eid}/seats/unblock",
                             json={"seatIds": seats[1:4]})).json() == {"changed": 3}
        assert (await c.post(f"/api/admin/events/{eid}/holds/release")).json() == \
            {"released": 1}
        snap = await env.rt.holds.snapshot(eid)
        assert snap is not None and all(snap.public_code(s) == "A" for s in seats[:4])
        # Whole-section tier assignment reprices every seat of the section.
        r = await c.post(f"/api/admin/events/{eid}/tiers", json={
            "name": "Promo", "price": 1000, "color": "#a855f7"})
        promo = next(t for t in r.json()["tiers"] if t["name"] == "Promo")
        r = await c.post(f"/api/admin/events/{eid}/tiers/{promo['id']}/assign",
                         json={"sections": ["Stalls"]})
        assert r.json()["assigned"] == 24
        async with env.client("bargain") as b:
            prices = {s["price"] for s in (await b.get(f"/api/events/{eid}/seats")).json()[
                "seats"]}
        assert prices == {1000}


async def test_a_venue_carries_its_time_zone_and_an_unknown_one_is_refused(env: Env) -> None:
    async with admin_client(env) as c:
        r = await c.post("/api/admin/venues", json={
            "name": f"London {uuid.uuid4().hex[:6]}", "timeZone": "Europe/London",
            "sections": [{"name": "Stalls", "rows": 2, "cols": 3}]})
        assert r.status_code == 201, r.text
        assert r.json()["timeZone"] == "Europe/London"
        london = int(r.json()["id"])
        bad = await c.post("/api/admin/venues", json={
            "name": "Nowhere", "timeZone": "Mars/Olympus",
            "sections": [{"name": "Stalls", "rows": 2, "cols": 3}]})
        assert_error(bad, 422, "VALIDATION_FAILED")
        assert "timeZone" in bad.text
        seoul = await _venue(c)  # none given: DEFAULT_TIME_ZONE
        r = await c.post("/api/admin/events", json=_event_body(london))
        assert r.status_code == 201, r.text
        ev = await env.rt.catalog.get_event(int(r.json()["id"]))
    assert await env.rt.catalog.time_zone(ev) == "Europe/London"
    async with env.rt.db.read_sessions() as s:
        assert (await s.get(Venue, seoul)).time_zone == "Asia/Seoul"  # type: ignore[union-attr]
