"""No orphan seats: with the rule on, no sequence of buyers' holds, releases, orders and
cancels, however they interleave, leaves a single free seat between taken seats; expiry, the
saga and the organiser are never refused and may leave one (documented in docs/onsale.md)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter

import httpx

from tests.conftest import Env
from tests.integration.helpers import assert_error, eventually
from tests.integration.onsale_helpers import event_with, orphans, redis_only, rows_of

ROWS, COLS = 3, 14
AISLE = frozenset({(2, 7)})  # row 2 has a gap: seats 6 and 8 are row ends, not neighbours


async def test_random_holds_and_releases_by_racing_buyers_never_leave_an_orphan(
    env: Env,
) -> None:
    redis_only(env)
    event_id = await event_with(env, ROWS, COLS, AISLE, orphan_rule=True,
                                max_seats_per_buyer=20, hold_default_s=120)
    layout = await env.rt.catalog.layout(event_id, fresh=True)
    rows = [[sid for _, sid in row] for row in rows_of(layout)]
    outcomes: Counter[str] = Counter()
    scans = 0
    done = asyncio.Event()

    async def monitor() -> None:
        """Scans atomic snapshots all through the race: the rule holds at every moment."""
        nonlocal scans
        while not done.is_set():
            snap = await env.rt.holds.snapshot(event_id)
            assert snap is not None
            assert orphans(snap, layout) == [], "orphan seat in a snapshot"
            scans += 1
            await asyncio.sleep(0.01)

    async def buyer(n: int, rng: random.Random, client: httpx.AsyncClient) -> None:
        me = {"X-Caller-Id": f"orphan-{n}"}
        mine: list[int] = []
        for _ in range(20):
            if mine and rng.random() < 0.4:
                chosen = rng.sample(mine, rng.randint(1, len(mine)))
                results = [await client.delete(f"/api/reservations/{event_id}/{s}", headers=me)
                           for s in sorted(chosen)]
                for s, r in zip(sorted(chosen), results, strict=True):
                    outcomes[f"release {r.status_code}"] += 1
                    if r.status_code == 204:
                        mine.remove(s)
                    else:
                        assert_error(r, 422, "ORPHAN_SEAT")
                continue
            row = rng.choice(rows)
            start = rng.randrange(len(row))
            # Mostly adjacent blocks, sometimes with a hole in them: both kinds can orphan.
            picks = row[start:start + rng.randint(1, 3)]
            if rng.random() < 0.3 and start + 2 < len(row):
                picks = [row[start], row[start + 2]]
            r = await client.post("/api/reservations", headers=me,
                                  json={"eventId": event_id, "seatIds": picks})
            outcomes[f"hold {r.status_code}"] += 1
            if r.status_code == 201:
                mine.extend(s for s in picks if s not in mine)
            elif r.status_code == 422:
                assert_error(r, 422, "ORPHAN_SEAT")
            else:
                assert_error(r, 409, "RESERVATION_CONFLICT")

    for seed in (7,):
        rng = random.Random(seed)
        async with env.client(limits=httpx.Limits(max_connections=40)) as client:
            done.clear()
            watcher = asyncio.create_task(monitor())
            await asyncio.gather(*(buyer(n, random.Random(rng.random()), client)
                                   for n in range(12)))
            done.set()
            await watcher
            # Everyone lets go (largest blocks first, as a person would): still no orphan.
            snap = await env.rt.holds.snapshot(event_id)
            assert snap is not None and orphans(snap, layout) == []
            await env.rt.admin.release_all_holds("test", event_id)
    assert scans > 10
    # The race exercised the rule: some requests were refused for leaving an orphan.
    assert outcomes["hold 422"] > 0 and outcomes["hold 201"] > 20, outcomes
    assert set(outcomes) <= {"hold 201", "hold 409", "hold 422", "release 204",
                             "release 422"}, outcomes


async def test_refusals_name_the_seat_and_expiry_saga_and_admin_may_leave_one(
    env: Env,
) -> None:
    redis_only(env)
    event_id = await event_with(env, 1, 8, orphan_rule=True, hold_min_s=1)
    s = await env.seat_ids(event_id)  # one row, columns 1..8
    layout = await env.rt.catalog.layout(event_id, fresh=True)
    async with env.client("ann") as ann, env.client("bob") as bob:
        assert (await ann.post("/api/reservations", json={
            "eventId": event_id, "seatIds": s[0:2]})).status_code == 201
        # Bob taking seat 4 would strand seat 3 between Ann's seat 2 and his seat 4.
        body = assert_error(await bob.post("/api/reservations", json={
            "eventId": event_id, "seatId": s[3]}), 422, "ORPHAN_SEAT")
        assert body["details"] == [{"seatId": s[2], "status": "ORPHAN"}]
        assert (await bob.post("/api/reservations", json={
            "eventId": event_id, "seatIds": s[2:4]})).status_code == 201
        # Ann releasing seat 2 alone would strand it between her seat 1 and Bob's seat 3.
        assert_error(await ann.delete(f"/api/reservations/{event_id}/{s[1]}"), 422,
                     "ORPHAN_SEAT")
        # Seat 5 with a 1 s hold, then seat 6 next to it: no orphan while both are held.
        assert (await ann.post("/api/reservations", json={
            "eventId": event_id, "seatId": s[4], "holdSeconds": 1})).status_code == 201
        assert (await bob.post("/api/reservations", json={
            "eventId": event_id, "seatId": s[5]})).status_code == 201

    # Expiry is never refused: seat 5 lapses and is left between Bob's seats 4 and 6.
    async def expired_orphan() -> bool:
        snap = await env.rt.holds.snapshot(event_id)
        return snap is not None and orphans(snap, layout) == [s[4]]

    await eventually(expired_orphan, timeout=5)
    # The saga's and the organiser's releases are forced and never refused either.
    assert await env.rt.holds.release(event_id, "", [s[1]], force=True) == 1
    snap = await env.rt.holds.snapshot(event_id)
    assert snap is not None and sorted(orphans(snap, layout)) == sorted([s[1], s[4]])
    assert await env.rt.admin.block_seats("test", event_id, [s[7]], blocked=True) == 1


async def _order(c: httpx.AsyncClient, event_id: int, seats: list[int]) -> httpx.Response:
    return await c.post("/api/orders", json={"eventId": event_id, "seatIds": seats},
                        headers={"Idempotency-Key": uuid.uuid4().hex})


async def test_ordering_and_cancelling_cannot_strand_a_seat(env: Env) -> None:
    """Issue 15: releasing the middle of three held seats is refused, so ordering it alone and
    cancelling that order must not strand it either. The buyer's cancel is a release like any
    other; only what is not the buyer's choice (a payment failure, an expiry) may leave one."""
    event_id = await event_with(env, 1, 8, orphan_rule=True, max_seats_per_buyer=8)
    s = await env.seat_ids(event_id)  # one row, columns 1..8
    layout = await env.rt.catalog.layout(event_id, fresh=True)

    async def no_orphan() -> None:
        snap = await env.rt.holds.snapshot(event_id)
        assert snap is not None and orphans(snap, layout) == []

    async with env.client("ann") as ann, env.client("bob") as bob, \
            env.client("cara") as cara:
        assert (await ann.post("/api/reservations", json={
            "eventId": event_id, "seatIds": s[2:5]})).status_code == 201
        assert_error(await ann.delete(f"/api/reservations/{event_id}/{s[3]}"), 422,
                     "ORPHAN_SEAT")
        # Ordering the middle seat alone would strand it between her own holds should the
        # order not be paid: refused like the release, naming the seat.
        body = assert_error(await _order(ann, event_id, [s[3]]), 422, "ORPHAN_SEAT")
        assert body["details"] == [{"seatId": s[3], "status": "ORPHAN"}]
        await no_orphan()
        # All three together is fine, and so is cancelling them together.
        r = await _order(ann, event_id, s[2:5])
        assert r.status_code == 201, r.text
        r = await ann.post(f"/api/orders/{r.json()['orderId']}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "CANCELLED", r.text
        await no_orphan()
        # Ann orders seat 4 alone (nothing of hers next to it); then Bob and Cara take seats 3
        # and 5. Cancelling now would leave seat 4 stranded between them: refused.
        assert (await ann.post("/api/reservations", json={
            "eventId": event_id, "seatId": s[3]})).status_code == 201
        r = await _order(ann, event_id, [s[3]])
        assert r.status_code == 201, r.text
        order_id = r.json()["orderId"]
        assert (await bob.post("/api/reservations", json={
            "eventId": event_id, "seatId": s[2]})).status_code == 201
        assert (await cara.post("/api/reservations", json={
            "eventId": event_id, "seatId": s[4]})).status_code == 201
        body = assert_error(await ann.post(f"/api/orders/{order_id}/cancel"), 422,
                            "ORPHAN_SEAT")
        assert body["details"] == [{"seatId": s[3], "status": "ORPHAN"}]
        order = (await ann.get(f"/api/orders/{order_id}")).json()
        assert order["status"] == "CREATED", order
        await no_orphan()
        # Once Bob lets go, the cancel goes through.
        assert (await bob.delete(f"/api/reservations/{event_id}/{s[2]}")).status_code == 204
        r = await ann.post(f"/api/orders/{order_id}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "CANCELLED", r.text
        await no_orphan()
