"""The presale and its access codes against real services: before the public sale only
buyers who redeemed a code may hold (the original's requests, without a code, are refused
with SALES_CLOSED naming `accessCode`), the code in a header or the body opens it, and a
code's use limit holds when many buyers race for its last uses (real clients, many rounds)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import Env
from tests.integration.admin_helpers import admin_client
from tests.integration.helpers import assert_error

pytestmark = pytest.mark.integration


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


async def _presale(env: Env, c: httpx.AsyncClient, event_id: int, max_uses: int,
                   code: str = "") -> str:
    now = datetime.now(UTC)
    r = await c.put(f"/api/admin/events/{event_id}/presale", json={
        "presaleStartsAt": _iso(now - timedelta(minutes=1)),
        "publicSaleStartsAt": _iso(now + timedelta(days=1))})
    assert r.status_code == 200, r.text
    r = await c.post(f"/api/admin/events/{event_id}/access-codes",
                     json={"code": code, "maxUses": max_uses})
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


async def test_a_code_opens_the_presale_and_the_original_contract_still_works(
        env: Env) -> None:
    event_id = await env.new_event(2, 5)
    seats = await env.seat_ids(event_id)
    async with admin_client(env) as c:
        code = await _presale(env, c, event_id, 2, "fans-2027")
        assert code == "FANS-2027"
        public = (await (env.client()).get(f"/api/events/{event_id}")).json()
        assert public["publicSaleStartsAt"] and public["presaleStartsAt"]
        async with env.client("no-code") as b:
            err = assert_error(await b.post("/api/reservations",
                                            json={"eventId": event_id, "seatId": seats[0]}),
                               409, "SALES_CLOSED")
            assert err["details"][0]["field"] == "accessCode"
            assert_error(await b.post("/api/reservations", json={
                "eventId": event_id, "seatId": seats[0], "accessCode": "WRONG"}),
                422, "VALIDATION_FAILED")
        async with env.client("fan-header") as b:  # the code as a header, any case
            r = await b.post("/api/reservations", json={"eventId": event_id,
                                                        "seatId": seats[0]},
                             headers={"X-Access-Code": "fans-2027"})
            assert r.status_code == 201, r.text
            r = await b.post("/api/reservations", json={"eventId": event_id,
                                                        "seatId": seats[1]})
            assert r.status_code == 201, r.text  # redeemed once: no code needed any more
        async with env.client("fan-redeem") as b:  # or redeemed on its own, then held
            r = await b.post(f"/api/events/{event_id}/access-code", json={"code": code})
            assert r.status_code == 200, r.text
            r = await b.post("/api/reservations", json={"eventId": event_id,
                                                        "seatId": seats[2]})
            assert r.status_code == 201, r.text
        async with env.client("too-late") as b:  # two uses, both gone
            err = assert_error(await b.post(f"/api/events/{event_id}/access-code",
                                            json={"code": code}), 422, "VALIDATION_FAILED")
            assert "used up" in err["message"]
        codes = (await c.get(f"/api/admin/events/{event_id}/access-codes")).json()
        assert [(x["code"], x["used"], x["maxUses"]) for x in codes] == [("FANS-2027", 2, 2)]
        # The public sale opens: everyone holds, without a code (the original's body).
        r = await c.put(f"/api/admin/events/{event_id}/presale",
                        json={"presaleStartsAt": None, "publicSaleStartsAt": None})
        assert r.status_code == 200, r.text
        async with env.client("no-code") as b:
            r = await b.post("/api/reservations", json={"eventId": event_id,
                                                        "seatId": seats[5]})
            assert r.status_code == 201, r.text


async def test_bad_presale_windows_and_codes_are_refused(env: Env) -> None:
    event_id = await env.new_event(1, 4)
    now = datetime.now(UTC)
    async with admin_client(env) as c:
        assert_error(await c.put(f"/api/admin/events/{event_id}/presale", json={
            "presaleStartsAt": _iso(now + timedelta(hours=2)),
            "publicSaleStartsAt": _iso(now + timedelta(hours=1))}), 422, "VALIDATION_FAILED")
        assert_error(await c.put(f"/api/admin/events/{event_id}/presale", json={
            "presaleStartsAt": _iso(now)}), 422, "VALIDATION_FAILED")
        assert_error(await c.post(f"/api/admin/events/{event_id}/access-codes",
                                  json={"code": "x", "maxUses": 0}), 422, "VALIDATION_FAILED")
        await c.post(f"/api/admin/events/{event_id}/access-codes",
                     json={"code": "SAME", "maxUses": 1})
        assert_error(await c.post(f"/api/admin/events/{event_id}/access-codes",
                                  json={"code": "same", "maxUses": 1}), 409, "CONFLICT")


async def test_a_codes_use_limit_holds_when_buyers_race_for_it(env: Env) -> None:
    """Rounds of 12 buyers redeeming a code of 5 uses at one barrier (half through the hold
    itself, half through the redeem route; one buyer twice at once): exactly 5 buyers get
    in, the code counts 5, and the others are refused cleanly."""
    rounds, racers, limit = 6, 12, 5
    event_id = await env.new_event(rounds, racers + 2)
    seats = await env.seat_ids(event_id)
    async with admin_client(env) as c, env.client(
            limits=httpx.Limits(max_connections=racers + 4)) as pool:
        for rnd in range(rounds):
            code = await _presale(env, c, event_id, limit, f"RACE-{rnd}")
            barrier = asyncio.Barrier(racers + 1)

            async def go(i: int, rnd: int = rnd, code: str = code,
                         barrier: asyncio.Barrier = barrier) -> httpx.Response:
                buyer = {"X-Caller-Id": f"race-{rnd}-{min(i, racers - 1)}"}
                await barrier.wait()
                if i % 2:
                    return await pool.post(f"/api/events/{event_id}/access-code",
                                           json={"code": code}, headers=buyer)
                return await pool.post("/api/reservations", json={
                    "eventId": event_id, "seatId": seats[rnd * (racers + 2) + i],
                    "accessCode": code}, headers=buyer)

            answers = await asyncio.gather(*(go(i) for i in range(racers + 1)))
            ok = {f"race-{rnd}-{min(i, racers - 1)}" for i, r in enumerate(answers)
                  if r.status_code in (200, 201)}
            for r in answers:
                if r.status_code not in (200, 201):
                    body = assert_error(r, 422, "VALIDATION_FAILED")
                    assert "used up" in body["message"], body
            assert len(ok) == limit, [r.text for r in answers]
            codes = {x["code"]: x for x in
                     (await c.get(f"/api/admin/events/{event_id}/access-codes")).json()}
            assert codes[code]["used"] == limit
