"""Best available: N adjacent seats in one row of a tier, chosen and held in one atomic script;
racing buyers never get overlapping seats, and the answer is clear when none are left."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx

from tests.conftest import Env
from tests.integration.helpers import assert_error
from tests.integration.onsale_helpers import event_with, orphans, redis_only
from ticketing_app.services.admin import TierSpec

TIERS = [TierSpec("Gold", 90000, rows=(1, 2)), TierSpec("Standard", 50000)]


async def _best(c: httpx.AsyncClient, event_id: int, quantity: int, tier: str | None = None
                ) -> httpx.Response:
    body: dict[str, object] = {"eventId": event_id, "quantity": quantity}
    if tier is not None:
        body["tier"] = tier
    return await c.post("/api/reservations/best", json=body)


async def test_scoring_front_row_then_centre_and_clear_refusals(env: Env) -> None:
    redis_only(env)
    event_id = await event_with(env, 4, 10, tiers=TIERS, orphan_rule=True,
                                max_seats_per_buyer=20)
    layout = await env.rt.catalog.layout(event_id, fresh=True)
    pos = {s.id: (s.r, s.c) for s in layout.seats}
    async with env.client("best") as c:
        r = await _best(c, event_id, 4, "gold")
        assert r.status_code == 201, r.text
        body = r.json()
        # Row 1 (nearest the stage), the block centred on the row's centre (5.5).
        assert [pos[s] for s in body["seatIds"]] == [(1, 4), (1, 5), (1, 6), (1, 7)]
        assert body["tier"] == "Gold" and body["holdSeconds"] == 30
        assert [s["label"] for s in body["seats"]] == [f"Row A seat {n}" for n in (4, 5, 6, 7)]
        # Equally central blocks on both sides: the left one wins.
        r = await _best(c, event_id, 2, "Gold")
        assert [pos[s] for s in r.json()["seatIds"]] == [(1, 2), (1, 3)]
        r = await _best(c, event_id, 3, "Gold")
        assert [pos[s] for s in r.json()["seatIds"]] == [(1, 8), (1, 9), (1, 10)]
        # Row 1 has one seat left: two together come from row 2, centred.
        r = await _best(c, event_id, 2, "Gold")
        assert [pos[s] for s in r.json()["seatIds"]] == [(2, 5), (2, 6)]
        # No tier named: any tier; the front rows' blocks still come first.
        r = await _best(c, event_id, 3)
        assert [pos[s] for s in r.json()["seatIds"]] == [(2, 2), (2, 3), (2, 4)]
    by_pos = {v: k for k, v in pos.items()}
    async with env.client("setup") as c:
        for seat in ((3, 3), (3, 8)):
            r = await c.post("/api/reservations", json={"eventId": event_id,
                                                        "seatId": by_pos[seat]})
            assert r.status_code == 201, r.text
    async with env.client("other") as c:
        # Row 3's most central pair, 5-6, would strand seat 4 next to the taken seat 3; with
        # the orphan rule on, the next best pair that strands nobody is chosen.
        r = await _best(c, event_id, 2, "Standard")
        assert [pos[s] for s in r.json()["seatIds"]] == [(3, 4), (3, 5)]
        # Row 3 has no 3 together left: row 4, centred (ties to the left).
        r = await _best(c, event_id, 3, "Standard")
        assert [pos[s] for s in r.json()["seatIds"]] == [(4, 4), (4, 5), (4, 6)]
        snap = await env.rt.holds.snapshot(event_id)
        assert snap is not None and orphans(snap, layout) == []
        # Gold has no 5 together any more: a clear 409 naming the largest block left.
        body = assert_error(await _best(c, event_id, 5, "Gold"), 409, "RESERVATION_CONFLICT")
        assert body["message"] == ("No 5 seats are left together in tier Gold; the largest "
                                   "block left is 4.")
        assert body["details"][0]["field"] == "quantity"
        assert body["details"][0]["largestBlock"] == 4
        body = assert_error(await _best(c, event_id, 11, "Standard"), 422, "VALIDATION_FAILED")
        assert "at most 10" in body["message"]
        body = assert_error(await _best(c, event_id, 2, "Platinum"), 422, "VALIDATION_FAILED")
        assert body["details"] == [{"field": "tier", "message": "unknown tier"}]
        assert_error(await c.post("/api/reservations/best",
                                  json={"eventId": event_id, "quantity": 0}),
                     422, "VALIDATION_FAILED")


async def test_racing_buyers_never_get_overlapping_seats(env: Env) -> None:
    redis_only(env)
    event_id = await event_with(env, 6, 12, frozenset({(3, 6), (4, 6)}), tiers=TIERS,
                                orphan_rule=True)
    layout = await env.rt.catalog.layout(event_id, fresh=True)
    info = layout.by_id()
    rng = random.Random(42)
    wants = [(rng.randint(1, 4), rng.choice(["Gold", "Standard", None])) for _ in range(80)]
    barrier = asyncio.Barrier(len(wants))
    async with env.client(limits=httpx.Limits(max_connections=100)) as c:

        async def buyer(n: int, quantity: int, tier: str | None) -> httpx.Response:
            await barrier.wait()
            body: dict[str, object] = {"eventId": event_id, "quantity": quantity}
            if tier:
                body["tier"] = tier
            return await c.post("/api/reservations/best", json=body,
                                headers={"X-Caller-Id": f"crowd-{n}"})

        responses = await asyncio.gather(*(buyer(n, q, t) for n, (q, t) in enumerate(wants)))
    got: dict[int, str] = {}
    codes: Counter[int] = Counter()
    for n, ((quantity, tier), r) in enumerate(zip(wants, responses, strict=True)):
        codes[r.status_code] += 1
        if r.status_code != 201:
            assert_error(r, 409, "RESERVATION_CONFLICT")
            continue
        seats = r.json()["seatIds"]
        assert len(seats) == quantity
        for s in seats:
            assert s not in got, f"seat {s} handed to {got[s]} and crowd-{n}"
            got[s] = f"crowd-{n}"
        placed = [info[s] for s in seats]
        # One row, consecutive columns, the asked tier.
        assert len({(p.section, p.r) for p in placed}) == 1
        assert [p.c for p in placed] == list(range(placed[0].c, placed[0].c + quantity))
        if tier:
            assert {p.tier_name for p in placed} == {tier}
    assert codes[201] >= 20 and len(got) >= 50, codes
    snap = await env.rt.holds.snapshot(event_id)
    assert snap is not None
    # Redis agrees with what the buyers were told, and the map has no orphan.
    assert {s: st.buyer for s, st in snap.states.items() if st.code == "H"} == got
    assert orphans(snap, layout) == []
