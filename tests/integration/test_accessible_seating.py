"""Accessible seating against real services: a venue imported with wheelchair spaces and
companion seats, the seat map says what each seat offers, wheelchair spaces are held back for
buyers who need one (enforced by the API, whatever the page does) until the organiser's
release time, and "a wheelchair space and N companions" is chosen and held atomically: many
buyers racing for the spaces never share a seat, and ordinary best available never takes one.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Env
from tests.integration.admin_helpers import admin_client
from tests.integration.helpers import assert_error
from tests.integration.onsale_helpers import redis_only

pytestmark = pytest.mark.integration

# Stalls: 3 rows of 8; row C has wheelchair spaces at C1 and C8, companion seats C2-C3 and
# C6-C7. Balcony under it after an empty row, with a restricted view at its A1.
LAYOUT = {"sections": [
    {"name": "Stalls", "rows": 3, "cols": 8, "wheelchair": ["C1", "C8"],
     "companion": ["C2", "C3", "C6", "C7"]},
    {"name": "Balcony", "rows": 2, "cols": 8, "restricted": ["A1"]},
]}


async def _event(env: Env, **settings: Any) -> int:
    async with admin_client(env) as c:
        r = await c.post("/api/admin/venues/import", json={
            "name": f"Access Hall {uuid.uuid4().hex[:6]}", "format": "json",
            "content": json.dumps(LAYOUT)})
        assert r.status_code == 201, r.text
        r = await c.post("/api/admin/events", json={
            "title": f"Access night {uuid.uuid4().hex[:6]}", "venueId": r.json()["id"],
            "startsAt": (datetime.now(UTC) + timedelta(days=10)).isoformat(),
            "status": "ON_SALE", "maxSeatsPerBuyer": 8,
            "tiers": [{"name": "Standard", "price": 50000}], **settings})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


async def _seats(c: httpx.AsyncClient, event_id: int) -> dict[str, dict[str, Any]]:
    r = await c.get(f"/api/events/{event_id}/seats")
    assert r.status_code == 200, r.text
    return {s["label"]: s for s in r.json()["seats"]}


async def test_the_map_says_what_each_seat_offers_and_rows_have_no_gap(env: Env) -> None:
    event_id = await _event(env)
    async with env.client() as c:
        seats = await _seats(c, event_id)
    assert seats["Stalls Row C seat 1"]["features"] == ["aisle", "wheelchair"]
    assert seats["Stalls Row C seat 2"]["features"] == ["companion"]
    assert seats["Stalls Row B seat 4"]["features"] == []
    # The balcony sits two grid rows below the stalls (an empty row between): its first row
    # is still D, not E.
    assert seats["Balcony Row D seat 1"]["features"] == ["aisle", "restricted"]
    assert {label.split(" seat")[0] for label in seats if label.startswith("Balcony")} == \
        {"Balcony Row D", "Balcony Row E"}


async def test_wheelchair_spaces_are_kept_for_buyers_who_need_one(env: Env) -> None:
    event_id = await _event(env, wheelchairPolicy="declared", wheelchairReleaseHours=48)
    async with env.client("not-declared") as c:
        space = (await _seats(c, event_id))["Stalls Row C seat 1"]["id"]
        companion = (await _seats(c, event_id))["Stalls Row C seat 2"]["id"]
        body = assert_error(await c.post("/api/reservations", json={
            "eventId": event_id, "seatIds": [companion, space]}), 403, "FORBIDDEN")
        assert body["details"] == [{"seatId": space, "status": "WHEELCHAIR_SPACE"}]
        # All or nothing: the companion seat of the refused request is not held either.
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": companion})
        assert r.status_code == 201, r.text
    async with env.client("declared") as c:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": space,
                                                    "wheelchair": True})
        assert r.status_code == 201, r.text
    # Released to everyone: 300 hours before an event 240 hours away has passed.
    open_id = await _event(env, wheelchairPolicy="declared", wheelchairReleaseHours=300)
    everyone_id = await _event(env, wheelchairPolicy="everyone")
    async with env.client("anyone") as c:
        for ev in (open_id, everyone_id):
            seat = (await _seats(c, ev))["Stalls Row C seat 8"]["id"]
            r = await c.post("/api/reservations", json={"eventId": ev, "seatId": seat})
            assert r.status_code == 201, r.text
    async with admin_client(env) as c:
        r = await c.post("/api/admin/events", json={
            "title": "Bad policy", "venueId": 1, "wheelchairPolicy": "nobody",
            "startsAt": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "tiers": [{"name": "Standard", "price": 1}]})
        body = assert_error(r, 422, "VALIDATION_FAILED")
        assert any(d["field"] == "wheelchairPolicy" for d in body["details"])


async def test_a_wheelchair_space_with_companions_is_one_atomic_hold(env: Env) -> None:
    redis_only(env)
    event_id = await _event(env)
    async with env.client() as c:
        seats = await _seats(c, event_id)
    by_id = {s["id"]: label for label, s in seats.items()}
    async with env.client("wc-1") as c:
        r = await c.post("/api/reservations/best", json={
            "eventId": event_id, "wheelchair": True, "companions": 2})
        assert r.status_code == 201, r.text
        got = sorted(by_id[s] for s in r.json()["seatIds"])
        # C1-C3 and C6-C8 are equally central: the left block wins.
        assert got == ["Stalls Row C seat 1", "Stalls Row C seat 2", "Stalls Row C seat 3"]
        body = assert_error(await c.post("/api/reservations/best", json={
            "eventId": event_id, "wheelchair": True, "companions": 3}), 422,
            "VALIDATION_FAILED")
        assert body["details"][0]["field"] == "companions"
    # Ordinary best available never takes a wheelchair space or a companion seat: row C has
    # only C4-C5 for it.
    async with env.client("pair") as c:
        for _ in range(3):
            r = await c.post("/api/reservations/best", json={"eventId": event_id,
                                                              "quantity": 2})
            assert r.status_code == 201, r.text
            assert not any(seats[by_id[s]]["features"] and
                           set(seats[by_id[s]]["features"]) - {"aisle", "restricted"}
                           for s in r.json()["seatIds"])


async def test_buyers_racing_for_wheelchair_spaces_never_share_a_seat(env: Env) -> None:
    redis_only(env)
    for round_ in range(5):
        event_id = await _event(env)

        async def one(i: int, ev: int = event_id, n: int = round_) -> httpx.Response:
            async with env.client(f"race-{n}-{i}") as c:
                return await c.post("/api/reservations/best", json={
                    "eventId": ev, "wheelchair": True, "companions": 1})

        answers = await asyncio.gather(*(one(i) for i in range(20)))
        won = [r.json()["seatIds"] for r in answers if r.status_code == 201]
        assert all(r.status_code in (201, 409) for r in answers)
        # Two spaces, each with companions beside it: exactly two winners, no seat twice.
        assert len(won) == 2
        flat = [s for seats in won for s in seats]
        assert len(flat) == len(set(flat)) == 4
        lost = next(r for r in answers if r.status_code == 409)
        assert lost.json()["code"] == "RESERVATION_CONFLICT"
