"""Comps and named reservations through the admin API against real services: a comp sells
its seats free to a named customer and mails the tickets; a reservation holds seats past the
buyers' hold TTL until the organiser releases or converts it; and a comp racing buyers' holds
for the same seats (real clients, many rounds) never gives a seat to both."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import Env
from tests.integration.admin_helpers import admin_client
from tests.integration.helpers import assert_error, eventually
from ticketing_app.db.models import AuditLog, Order, Seat, Ticket

pytestmark = pytest.mark.integration


async def _rows(env: Env, model: Any, *where: Any) -> list[Any]:
    async with env.rt.db.read_sessions() as s:
        return list((await s.execute(select(model).where(*where))).scalars())


async def test_a_comp_sells_free_tickets_mailed_to_the_customer(env: Env,
                                                                smtp_sink: Any) -> None:
    event_id = await env.new_event(2, 6)
    seats = await env.seat_ids(event_id)
    email = f"guest-{uuid.uuid4().hex[:6]}@example.com"
    async with admin_client(env) as c:
        r = await c.post(f"/api/admin/events/{event_id}/comps",
                         json={"seatIds": seats[:2], "name": "Kim Minji", "email": email})
        assert r.status_code == 201, r.text
        comp = r.json()
        listed = (await c.get(f"/api/admin/events/{event_id}/box-office")).json()
    assert comp["status"] == "CONFIRMED" and comp["kind"] == "COMP" and comp["total"] == 0
    assert comp["customerName"] == "Kim Minji" and comp["customerEmail"] == email
    assert [o["orderId"] for o in listed] == [comp["orderId"]]
    order_id = comp["orderId"]
    sold = await _rows(env, Seat, Seat.id.in_(seats[:2]))  # type: ignore[attr-defined]
    assert {s.status for s in sold} == {"SOLD"} and {s.order_id for s in sold} == {order_id}
    assert len(await _rows(env, Ticket, Ticket.order_id == order_id)) == 2
    audit = await _rows(env, AuditLog, AuditLog.target == f"order:{order_id}")
    assert [a.action for a in audit] == ["comp.issue"]
    # A buyer cannot hold a comped seat.
    async with env.client("after-comp") as b:
        assert_error(await b.post("/api/reservations", json={"eventId": event_id,
                                                             "seatId": seats[0]}),
                     422, "VALIDATION_FAILED")
    # The tickets reach the customer's mailbox, with their codes.

    async def mailed() -> bool:
        return any(f"#{order_id}" in m["Subject"] for m in smtp_sink.to(email))

    await eventually(mailed, timeout=60)
    body = next(m for m in smtp_sink.to(email) if f"#{order_id}" in m["Subject"])
    tickets = await _rows(env, Ticket, Ticket.order_id == order_id)
    assert all(t.code in body.get_content() for t in tickets)


async def test_a_reservation_outlives_the_hold_ttl_until_released_or_converted(
        env: Env) -> None:
    event_id = await env.new_event(1, 6, hold_min_s=1, hold_default_s=1)
    seats = await env.seat_ids(event_id)
    async with admin_client(env) as c:
        r = await c.post(f"/api/admin/events/{event_id}/reservations",
                         json={"seatIds": seats[:2], "name": "Lee", "email": "lee@example.com"})
        assert r.status_code == 201, r.text
        first = r.json()
        assert first["status"] == "CREATED" and first["kind"] == "RESERVATION"
        assert first["total"] == 100000
        # Longer than any buyer's hold: the sweeper leaves it alone, buyers meet a held seat.
        await asyncio.sleep(1.5)
        await env.rt.holds.sweep(event_id)
        async with env.client("walk-in") as b:
            assert_error(await b.post("/api/reservations", json={"eventId": event_id,
                                                                 "seatId": seats[0]}),
                         409, "RESERVATION_CONFLICT")
        r = await c.post(f"/api/admin/reservations/{first['orderId']}/release")
        assert r.status_code == 200 and r.json()["status"] == "CANCELLED", r.text
        assert_error(await c.post(f"/api/admin/reservations/{first['orderId']}/convert"),
                     409, "CONFLICT")
        async with env.client("walk-in") as b:
            r = await b.post("/api/reservations", json={"eventId": event_id,
                                                        "seatId": seats[0]})
            assert r.status_code == 201, r.text
            await b.delete(f"/api/reservations/{event_id}/{seats[0]}")
        # A second reservation converted: a confirmed order of kind RESERVATION.
        r = await c.post(f"/api/admin/events/{event_id}/reservations",
                         json={"seatIds": seats[3:5], "name": "Park", "email": "p@example.com"})
        second = r.json()
        r = await c.post(f"/api/admin/reservations/{second['orderId']}/convert")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "CONFIRMED" and r.json()["kind"] == "RESERVATION"
    sold = await _rows(env, Seat, Seat.id.in_(seats[3:5]))  # type: ignore[attr-defined]
    assert {s.status for s in sold} == {"SOLD"}
    assert len(await _rows(env, Ticket, Ticket.order_id == second["orderId"])) == 2
    actions = [a.action for a in await _rows(env, AuditLog, AuditLog.target.in_(  # type: ignore[attr-defined]
        [f"order:{first['orderId']}", f"order:{second['orderId']}"]))]
    assert sorted(actions) == sorted(["reservation.issue", "reservation.release",
                                      "reservation.issue", "reservation.convert"])


async def test_bad_comps_are_refused(env: Env) -> None:
    event_id = await env.new_event(1, 4)
    seats = await env.seat_ids(event_id)
    async with admin_client(env) as c:
        err = assert_error(await c.post(f"/api/admin/events/{event_id}/comps", json={
            "seatIds": seats[:1], "name": " ", "email": "nope"}), 422, "VALIDATION_FAILED")
        assert {d["field"] for d in err["details"]} == {"name", "email"}
        assert_error(await c.post(f"/api/admin/events/{event_id}/comps", json={
            "seatIds": [999999], "name": "A", "email": "a@example.com"}),
            422, "VALIDATION_FAILED")
    async with httpx.AsyncClient(base_url=env.api_url) as anon:
        r = await anon.post(f"/api/admin/events/{event_id}/comps", json={
            "seatIds": seats[:1], "name": "A", "email": "a@example.com"})
        assert r.status_code == 401


async def test_a_comp_racing_buyers_for_the_same_seats_never_sells_twice(env: Env) -> None:
    """Each round: a comp of two seats and six buyers holding one of them each, all released
    by one barrier. The comp is all-or-nothing; every seat ends with exactly one owner."""
    rounds, buyers = 15, 6
    event_id = await env.new_event(rounds, 2 * 3, max_seats_per_buyer=10)
    seats = await env.seat_ids(event_id)
    comp_wins = buyer_wins = 0
    async with admin_client(env) as admin, env.client(
            limits=httpx.Limits(max_connections=buyers + 2)) as pool:
        for rnd in range(rounds):
            pair = seats[rnd * 6: rnd * 6 + 2]
            barrier = asyncio.Barrier(buyers + 1)

            async def comp(pair: list[int] = pair, barrier: asyncio.Barrier = barrier
                           ) -> httpx.Response:
                await barrier.wait()
                return await admin.post(f"/api/admin/events/{event_id}/comps", json={
                    "seatIds": pair, "name": "Race", "email": "race@example.com"})

            async def hold(i: int, rnd: int = rnd, pair: list[int] = pair,
                           barrier: asyncio.Barrier = barrier) -> httpx.Response:
                await barrier.wait()
                return await pool.post("/api/reservations",
                                       json={"eventId": event_id, "seatId": pair[i % 2]},
                                       headers={"X-Caller-Id": f"racer-{rnd}-{i}"})

            c, *holds = await asyncio.gather(comp(), *(hold(i) for i in range(buyers)))
            held = {h.json()["seatId"] for h in holds if h.status_code == 201}
            for h in holds:
                if h.status_code != 201:
                    assert h.status_code in (409, 422), h.text
            won = [h for h in holds if h.status_code == 201]
            assert len(won) == len(held)  # one buyer per seat at most
            if c.status_code == 201:
                comp_wins += 1
                assert not won, (c.text, [h.text for h in won])
            else:
                assert c.json()["code"] in ("RESERVATION_CONFLICT", "VALIDATION_FAILED"), c.text
                assert won
                buyer_wins += 1
            rows = await _rows(env, Seat, Seat.id.in_(pair))  # type: ignore[attr-defined]
            assert {s.status for s in rows} == ({"SOLD"} if c.status_code == 201
                                                else {"AVAILABLE"})
    # Every round has one winner per seat, whoever it was.
    assert comp_wins + buyer_wins == rounds
    orders = await _rows(env, Order, Order.event_id == event_id)
    assert len(orders) == comp_wins and {o.kind for o in orders} <= {"COMP"}
