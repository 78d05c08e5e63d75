"""The waitlist end to end against real services (worker included): buyers join a sold-out
event's line; a freed seat is held for the first of them and mailed; an offer not taken in
time passes to the next; the link hands the held seat to the buyer who opens it, who then
orders and pays as usual."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from tests.conftest import Env
from tests.integration.admin_helpers import admin_client
from tests.integration.helpers import assert_error, eventually, pay
from ticketing_app.db.models import WaitlistEntry
from ticketing_app.domain import errors
from ticketing_app.services.waitlist import offer_holder

pytestmark = pytest.mark.integration


async def _line(c: Any, event_id: int) -> list[dict[str, Any]]:
    r = await c.get(f"/api/admin/events/{event_id}/waitlist")
    assert r.status_code == 200, r.text
    return list(r.json())


async def test_a_freed_seat_goes_to_the_next_in_line(env: Env, smtp_sink: Any,
                                                     provider: Env) -> None:
    await env.set_provider_mode("success")
    event_id = await env.new_event(1, 2)
    seats = await env.seat_ids(event_id)
    # The sink lives as long as the session: an address of this run's own (the backends'
    # copies of this test would otherwise read each other's offer mail).
    first = f"first-{event_id}-{uuid.uuid4().hex[:6]}@example.com"
    async with env.client() as anon:
        assert_error(await anon.post(f"/api/events/{event_id}/waitlist",
                                     json={"email": "early@example.com"}), 409, "CONFLICT")
    async with admin_client(env) as c:
        held = []
        for i, sid in enumerate(seats):
            r = await c.post(f"/api/admin/events/{event_id}/reservations",
                             json={"seatIds": [sid], "name": f"G{i}", "email": "g@example.com"})
            assert r.status_code == 201, r.text
            held.append(r.json()["orderId"])
        async with env.client() as anon:
            for n, email in enumerate((first, "second@example.com"), 1):
                r = await anon.post(f"/api/events/{event_id}/waitlist", json={"email": email})
                assert r.status_code == 201 and r.json()["position"] == n, r.text
            r = await anon.post(f"/api/events/{event_id}/waitlist",
                                json={"email": first.upper()})
            assert r.json()["position"] == 1  # joining again keeps the place
        r = await c.post(f"/api/admin/reservations/{held[0]}/release")
        assert r.status_code == 200, r.text

        async def offered() -> list[dict[str, Any]] | None:
            line = await _line(c, event_id)
            return line if line[0]["status"] == "OFFERED" else None

        line = await eventually(offered, timeout=30)
        assert line is not None and line[1]["status"] == "WAITING"
        assert line[0]["seatIds"] == [seats[0]]
        # Nobody else may take the offered seat.
        async with env.client("walk-in") as b:
            assert_error(await b.post("/api/reservations",
                                      json={"eventId": event_id, "seatId": seats[0]}),
                         409, "RESERVATION_CONFLICT")

        async def mailed() -> bool:
            return bool(smtp_sink.to(first))

        await eventually(mailed, timeout=30)
        body = smtp_sink.to(first)[0].get_content()
        token = re.search(r"/event/\d+/offer/(\S+)", body)
        assert token is not None and token.group(1) == line[0]["offerUrl"].rsplit("/", 1)[1]
        # The link: the seat becomes this buyer's hold, then an ordinary order and payment.
        claimed = await env.rt.waitlist.claim(token.group(1), "first-buyer")
        assert claimed.seat_ids == [seats[0]]
        async with env.client("first-buyer") as b:
            r = await b.post("/api/orders", json={"eventId": event_id, "seatIds": [seats[0]]},
                             headers={"Idempotency-Key": "wl-1"})
            assert r.status_code == 201, r.text
            assert await pay(b, r.json()["orderId"]) == "success"
        assert (await _line(c, event_id))[0]["status"] == "CLAIMED"


async def test_an_unclaimed_offer_passes_to_the_next(env: Env) -> None:
    """The offer's time runs out (moved back here, as the clock would: its expiry in the
    database, its hold in Redis): the next in line is offered the seat, and the first link
    no longer works."""
    event_id = await env.new_event(1, 1)
    seats = await env.seat_ids(event_id)
    async with admin_client(env) as c:
        r = await c.post(f"/api/admin/events/{event_id}/reservations",
                         json={"seatIds": seats, "name": "G", "email": "g@example.com"})
        for email in ("a@example.com", "b@example.com"):
            await env.rt.waitlist.join(event_id, email)
        await c.post(f"/api/admin/reservations/{r.json()['orderId']}/release")

        async def offered_to(n: int) -> bool:
            await env.rt.waitlist.offer_freed_seats()  # the worker does it too, every second
            return (await _line(c, event_id))[n]["status"] == "OFFERED"

        await eventually(lambda: offered_to(0), timeout=30)
        first = (await env.rt.waitlist.entries(event_id))[0]
        async with env.rt.db.write_sessions() as s:
            await s.execute(update(WaitlistEntry).where(col(WaitlistEntry.id) == first.id)
                            .values(offer_expires_at=datetime.now(UTC) - timedelta(seconds=1)))
            await s.commit()
        await env.rt.holds.release(event_id, offer_holder(first.offer_token), seats, force=True)
        await eventually(lambda: offered_to(1), timeout=30)
        line = await _line(c, event_id)
    assert [e["status"] for e in line] == ["EXPIRED", "OFFERED"]
    with pytest.raises(errors.ReservationExpired):
        await env.rt.waitlist.claim(first.offer_token, "late-buyer")
