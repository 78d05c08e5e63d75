"""The virtual waiting room against real Valkey and the real API process: first come, first
served under racing arrivals; admissions never faster than the configured rate, however many
processes advance the queue; a reload keeps the place; admission tokens gate the hold API and
cannot be forged, replayed by another buyer, or issued twice for one place."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime
from typing import Any

import httpx

from tests.conftest import Env
from tests.integration.helpers import assert_error, eventually
from tests.integration.onsale_helpers import event_with, redis_only
from ticketing_app.domain.admission import verify_admission_token
from ticketing_app.services.onsale_settings import OnSaleSettings, update_onsale_settings

RATE = 20  # admissions per second


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


async def test_first_come_first_served_at_the_configured_rate(env: Env) -> None:
    redis_only(env)
    event_id = await event_with(env, 5, 10, waiting_room=True, waiting_room_rate=RATE)
    waves, per_wave = 3, 20
    joined: dict[str, dict[str, Any]] = {}
    admitted: dict[str, dict[str, Any]] = {}
    stop = asyncio.Event()

    async def extra_pacer() -> None:
        """More processes advancing the same queue at once must not admit any faster."""
        while not stop.is_set():
            await env.rt.waiting.advance(event_id)
            await asyncio.sleep(0.01)

    async def wait_turn(c: httpx.AsyncClient, buyer: str) -> None:
        while True:
            r = await c.get(f"/api/events/{event_id}/queue", headers={"X-Caller-Id": buyer})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["position"] == joined[buyer]["position"]
            if body["status"] == "admitted":
                admitted[buyer] = body
                return
            assert body["status"] == "waiting" and body["roomOn"] is True
            assert body["peopleAhead"] >= 0 and body["estimatedWaitSeconds"] >= 0
            await asyncio.sleep(0.4)

    pacers = [asyncio.create_task(extra_pacer()) for _ in range(3)]
    try:
        async with env.client(limits=httpx.Limits(max_connections=80)) as c:
            waiters = []
            for w in range(waves):
                names = [f"fan-{w}-{i}" for i in range(per_wave)]
                barrier = asyncio.Barrier(per_wave)

                async def join(buyer: str, barrier: asyncio.Barrier = barrier) -> None:
                    await barrier.wait()
                    r = await c.post(f"/api/events/{event_id}/queue",
                                     headers={"X-Caller-Id": buyer})
                    assert r.status_code == 200, r.text
                    joined[buyer] = r.json()

                # A wave joins all at once; the next wave arrives after it.
                await asyncio.gather(*(join(b) for b in names))
                waiters += [asyncio.create_task(wait_turn(c, b)) for b in names]
            # A reload keeps the place.
            for buyer in ("fan-0-3", "fan-2-7"):
                r = await c.post(f"/api/events/{event_id}/queue", headers={"X-Caller-Id": buyer})
                assert r.json()["position"] == joined[buyer]["position"]
            await asyncio.wait_for(asyncio.gather(*waiters), 30)
            # Asking again gives the very same token: one token per place.
            again = await c.get(f"/api/events/{event_id}/queue",
                                headers={"X-Caller-Id": "fan-1-5"})
            assert again.json()["admissionToken"] == admitted["fan-1-5"]["admissionToken"]
    finally:
        stop.set()
        await asyncio.gather(*pacers)

    n = waves * per_wave
    position = {b: j["position"] for b, j in joined.items()}
    assert sorted(position.values()) == list(range(1, n + 1))  # an atomic counter: no gaps
    for w in range(waves - 1):  # an earlier wave is always ahead of a later one
        assert max(position[f"fan-{w}-{i}"] for i in range(per_wave)) < \
            min(position[f"fan-{w + 1}-{i}"] for i in range(per_wave))
    # First come, first served: admission times never go down as positions go up.
    by_position = sorted(admitted.values(), key=lambda a: a["position"])
    times = [_ms(a["admittedAt"]) for a in by_position]
    assert times == sorted(times)
    # Never faster than the rate: between any two advances, at most rate x elapsed + 1.
    marks = await env.rt.waiting.checkpoints(event_id)
    assert marks[-1][0] == n
    for (s1, t1), (s2, t2) in itertools.combinations(marks, 2):
        assert s2 - s1 <= RATE * (t2 - t1) / 1000 + 1, (s1, t1, s2, t2)
    span_s = (marks[-1][1] - marks[0][1]) / 1000
    assert span_s >= (n - RATE) / RATE - 0.5  # the queue really was paced
    # Each place's token was issued once, to its own buyer, bound to its place.
    issued = await env.rt.waiting.issued(event_id)
    assert issued == {a["position"]: b for b, a in admitted.items()}
    secret = env.rt.settings.secret_key
    for buyer, a in admitted.items():
        adm = verify_admission_token(secret, buyer, event_id, a["admissionToken"])
        assert adm is not None and adm.position == a["position"]


async def test_admission_token_gates_holds_and_cannot_be_forged_or_replayed(env: Env) -> None:
    redis_only(env)
    event_id = await event_with(env, 2, 10, waiting_room=True, waiting_room_rate=1000)
    other_event = await event_with(env, 1, 5, waiting_room=True, waiting_room_rate=1000)
    seats = await env.seat_ids(event_id)
    url = f"/api/events/{event_id}/queue"
    async with env.client("alice") as alice, env.client("mallory") as mallory:
        first = (await alice.post(url)).json()

        async def admitted() -> dict[str, Any] | None:
            body = (await alice.get(url)).json()
            return body if body["status"] == "admitted" else None

        token = first["admissionToken"] or (await eventually(admitted))["admissionToken"]
        assert token
        hold = {"eventId": event_id, "seatId": seats[0]}
        body = assert_error(await alice.post("/api/reservations", json=hold), 401,
                            "UNAUTHENTICATED")
        assert body["details"] == [{"field": "X-Admission-Token", "message": "missing"}]
        # Forged: another position, or a signature made up.
        parts = token.split(".")
        for forged in (".".join([*parts[:2], "999", *parts[3:]]),
                       ".".join([*parts[:5], "A" * 43]), "w1.garbage"):
            assert_error(await alice.post("/api/reservations", json=hold,
                                          headers={"X-Admission-Token": forged}),
                         401, "UNAUTHENTICATED")
        # Replayed by another buyer, or at another event: refused.
        assert_error(await mallory.post("/api/reservations", json=hold,
                                        headers={"X-Admission-Token": token}),
                     401, "UNAUTHENTICATED")
        other_seat = (await env.seat_ids(other_event))[0]
        assert_error(await alice.post("/api/reservations",
                                      json={"eventId": other_event, "seatId": other_seat},
                                      headers={"X-Admission-Token": token}),
                     401, "UNAUTHENTICATED")
        assert_error(await mallory.post("/api/reservations/best",
                                        json={"eventId": event_id, "quantity": 2,
                                              "admissionToken": token}),
                     401, "UNAUTHENTICATED")
        # The admitted buyer holds, by header or by body field, and uses best available.
        r = await alice.post("/api/reservations", json=hold,
                             headers={"X-Admission-Token": token})
        assert r.status_code == 201, r.text
        r = await alice.post("/api/reservations",
                             json={"eventId": event_id, "seatId": seats[1],
                                   "admissionToken": token})
        assert r.status_code == 201, r.text
        r = await alice.post("/api/reservations/best", json={"eventId": event_id, "quantity": 2},
                             headers={"X-Admission-Token": token})
        assert r.status_code == 201, r.text
        # The seat page's gate says the same.
        assert await env.rt.waiting.may_enter("alice", event_id, token)
        assert not await env.rt.waiting.may_enter("mallory", event_id, token)
        assert not await env.rt.waiting.may_enter("alice", event_id, None)
        # Resetting the room invalidates every token issued before.
        await env.rt.waiting.reset(event_id)
        body = assert_error(await alice.post("/api/reservations",
                                             json={"eventId": event_id, "seatId": seats[9]},
                                             headers={"X-Admission-Token": token}),
                            401, "UNAUTHENTICATED")
        assert body["details"][0]["message"] == "invalid or expired"
        assert_error(await alice.get(url), 404, "NOT_FOUND")  # the reset emptied the queue
        # The organiser switches the room off: no token needed any more.
        await update_onsale_settings(env.rt, "test", event_id,
                                     OnSaleSettings(waiting_room=False))
        assert (await alice.post(url)).json()["status"] == "open"
        r = await mallory.post("/api/reservations", json={"eventId": event_id,
                                                          "seatId": seats[9]})
        assert r.status_code == 201, r.text
        assert_error(await alice.post("/api/events/999999/queue"), 404, "EVENT_NOT_FOUND")


async def test_automatic_room_turns_on_when_arrivals_surge(env: Env) -> None:
    redis_only(env)
    event_id = await event_with(env, 2, 10, waiting_room_auto=True,
                                waiting_room_auto_threshold=10, waiting_room_rate=2)
    seats = await env.seat_ids(event_id)
    async with env.client("calm") as calm:
        # A quiet moment: the room is off, the seats open to anyone without a token.
        r = await calm.post("/api/reservations", json={"eventId": event_id, "seatId": seats[0]})
        assert r.status_code == 201, r.text
    barrier = asyncio.Barrier(30)
    async with env.client(limits=httpx.Limits(max_connections=40)) as c:

        async def arrive(n: int) -> dict[str, Any]:
            await barrier.wait()
            r = await c.post(f"/api/events/{event_id}/queue",
                             headers={"X-Caller-Id": f"surge-{n}"})
            assert r.status_code == 200, r.text
            return {"buyer": f"surge-{n}", **r.json()}

        arrivals = sorted(await asyncio.gather(*(arrive(n) for n in range(30))),
                          key=lambda a: a["position"])
        at_once = [a for a in arrivals if a["status"] == "admitted"]
        waiting = [a for a in arrivals if a["status"] == "waiting"]
        # Those who came before the surge got in at once (a prefix of the queue); the surge
        # switched the room on and the rest wait their turn.
        assert [a["position"] for a in at_once] == list(range(1, len(at_once) + 1))
        assert 10 <= len(at_once) < 30 and waiting and all(a["roomOn"] for a in waiting)
        late, early = waiting[-1], at_once[0]
        assert late["estimatedWaitSeconds"] >= 1
        assert_error(await c.post("/api/reservations", json={"eventId": event_id,
                                                             "seatId": seats[5]},
                                  headers={"X-Caller-Id": late["buyer"]}),
                     401, "UNAUTHENTICATED")
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": seats[5]},
                         headers={"X-Caller-Id": early["buyer"],
                                  "X-Admission-Token": early["admissionToken"]})
        assert r.status_code == 201, r.text


async def test_capacity_caps_live_admissions(env: Env) -> None:
    redis_only(env)
    event_id = await event_with(env, 1, 10, waiting_room=True, waiting_room_rate=1000,
                                waiting_room_capacity=3)
    async with env.client() as c:
        statuses = [(await c.post(f"/api/events/{event_id}/queue",
                                  headers={"X-Caller-Id": f"cap-{n}"})).json()
                    for n in range(8)]
        assert [s["position"] for s in statuses] == list(range(1, 9))
        await asyncio.sleep(0.6)  # several pacer ticks: still no room for a fourth
        polls = [(await c.get(f"/api/events/{event_id}/queue",
                              headers={"X-Caller-Id": f"cap-{n}"})).json() for n in range(8)]
    assert [p["status"] for p in polls] == ["admitted"] * 3 + ["waiting"] * 5
    assert polls[3]["peopleAhead"] == 0 and polls[7]["peopleAhead"] == 4
    assert max(s for s, _ in await env.rt.waiting.checkpoints(event_id)) == 3
