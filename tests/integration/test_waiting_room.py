"""The virtual waiting room against real Valkey and the real API process: first come, first
served under racing arrivals; admissions never faster than the configured rate, however many
processes advance the queue; a reload keeps the place; admission tokens gate the hold API and
cannot be forged, replayed by another buyer, or issued twice for one place; the bot check
(proof of work) in front of a place: a solved challenge buys one place, a wrong, expired, reused
or foreign one buys none, difficulty 0 needs none, and the server checks with one hash."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.conftest import Env
from tests.integration.helpers import assert_error, eventually
from tests.integration.onsale_helpers import event_with, redis_only
from ticketing_app.domain import errors
from ticketing_app.domain import pow as pow_mod
from ticketing_app.domain.admission import verify_admission_token
from ticketing_app.domain.pow import (
    ALGORITHM,
    Solution,
    issue_challenge,
    leading_zero_bits,
    now_ms,
    solution_digest,
    solve,
)
from ticketing_app.services.onsale_settings import OnSaleSettings

RATE = 20  # admissions per second
POW_BITS = 12  # cheap for the tests' own solver; the server's checks are the same at any bits


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


async def test_first_come_first_served_at_the_configured_rate(env: Env) -> None:
    redis_only(env)
    event_id = await event_with(env, 5, 10, waiting_room=True, waiting_room_rate=RATE,
                                waiting_room_difficulty=0)
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
    event_id = await event_with(env, 2, 10, waiting_room=True, waiting_room_rate=1000,
                                waiting_room_difficulty=0)
    other_event = await event_with(env, 1, 5, waiting_room=True, waiting_room_rate=1000,
                                   waiting_room_difficulty=0)
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
        # "²" is a digit to str.isdigit() but not to int(): refused, not a 500.
        assert_error(await alice.post("/api/reservations", json={
            **hold, "admissionToken": ".".join([*parts[:2], "\u00b2", *parts[3:]])}),
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
        await env.rt.onsale.update("test", event_id,
                                     OnSaleSettings(waiting_room=False))
        assert (await alice.post(url)).json()["status"] == "open"
        r = await mallory.post("/api/reservations", json={"eventId": event_id,
                                                          "seatId": seats[9]})
        assert r.status_code == 201, r.text
        assert_error(await alice.post("/api/events/999999/queue"), 404, "EVENT_NOT_FOUND")


async def test_automatic_room_turns_on_when_arrivals_surge(env: Env) -> None:
    redis_only(env)
    event_id = await event_with(env, 2, 10, waiting_room_auto=True,
                                waiting_room_auto_threshold=10, waiting_room_rate=2,
                                waiting_room_difficulty=0)
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
                                waiting_room_capacity=3, waiting_room_difficulty=0)
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


# ---- the bot check ---------------------------------------------------------------------------
async def _challenge(c: httpx.AsyncClient, event_id: int) -> dict[str, Any]:
    r = await c.get(f"/api/events/{event_id}/queue/challenge")
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = r.json()
    return body


def _solved(ch: dict[str, Any]) -> dict[str, Any]:
    return {"challenge": ch["challenge"], "counter": solve(ch["challenge"], ch["difficulty"])}


def _unsolved(challenge: str, bits: int) -> int:
    return next(n for n in itertools.count()
                if leading_zero_bits(solution_digest(challenge, n)) < bits)


async def _refused(c: httpx.AsyncClient, url: str, body: dict[str, Any], field: str,
                   message: str) -> None:
    err = assert_error(await c.post(url, json=body), 422, "VALIDATION_FAILED")
    assert err["details"] == [{"field": field, "message": message}], err


async def test_bot_check_admits_a_solved_challenge_and_refuses_the_rest(env: Env) -> None:
    event_id = await event_with(env, 1, 10, waiting_room=True, waiting_room_rate=1000,
                                waiting_room_difficulty=POW_BITS)
    other_event = await event_with(env, 1, 10, waiting_room=True, waiting_room_rate=1000,
                                   waiting_room_difficulty=POW_BITS)
    url = f"/api/events/{event_id}/queue"
    async with env.client("alice") as alice, env.client("mallory") as mallory:
        # No solution, no place: 401 with the standard body, naming what is missing.
        body = assert_error(await alice.post(url), 401, "UNAUTHENTICATED")
        assert body["details"] == [{"field": "challenge", "message": "missing"}]
        ch = await _challenge(alice, event_id)
        assert ch["eventId"] == event_id and ch["difficulty"] == POW_BITS
        assert ch["algorithm"] == ALGORITHM and ch["challenge"] and ch["expiresAt"]
        solved = _solved(ch)
        # Refused, each with the standard body and a detail saying why; none takes a place.
        await _refused(alice, url, {**solved, "counter": _unsolved(ch["challenge"], POW_BITS)},
                       "counter", "does not solve the challenge")
        await _refused(mallory, url, solved, "challenge", "not issued to this buyer, or altered")
        await _refused(alice, f"/api/events/{other_event}/queue", solved, "challenge",
                       "issued for another event")
        stale = issue_challenge(env.rt.settings.secret_key, "alice", event_id, POW_BITS,
                                ttl_s=120, now=now_ms() - 121_000)
        await _refused(alice, url, {"challenge": stale.token,
                                    "counter": solve(stale.token, POW_BITS)},
                       "challenge", "expired")
        parts = ch["challenge"].split(".")
        easier = ".".join([*parts[:2], "1", *parts[3:]])  # a lower difficulty written in
        await _refused(alice, url, {"challenge": easier, "counter": solve(easier, 1)},
                       "challenge", "not issued to this buyer, or altered")
        assert_error(await alice.post(url, json={"challenge": ch["challenge"]}), 422,
                     "VALIDATION_FAILED")  # no counter: the schema says so
        for who in (alice, mallory):
            assert_error(await who.get(url), 404, "NOT_FOUND")
        # The solved challenge buys a place; a reload keeps it without solving again, and
        # sending the same solution again changes nothing (it was spent once, on the place).
        r = await alice.post(url, json=solved)
        assert r.status_code == 200, r.text
        assert r.json()["position"] == 1
        for again in (await alice.post(url), await alice.post(url, json=solved)):
            assert again.status_code == 200 and again.json()["position"] == 1, again.text

        async def admitted() -> dict[str, Any] | None:
            b = (await alice.get(url)).json()
            return b if b["status"] == "admitted" else None

        token = (await eventually(admitted))["admissionToken"]
        seat = (await env.seat_ids(event_id))[0]
        r = await alice.post("/api/reservations", json={"eventId": event_id, "seatId": seat},
                             headers={"X-Admission-Token": token})
        assert r.status_code == 201, r.text
        # Reused: once the place is gone (the organiser resets the queue), the same solution
        # buys nothing; a fresh challenge does.
        await env.rt.waiting.reset(event_id)
        await _refused(alice, url, solved, "challenge", "already used")
        r = await alice.post(url, json=_solved(await _challenge(alice, event_id)))
        assert r.status_code == 200, r.text
        # The organiser raises the difficulty: a challenge issued before asks too little.
        early = _solved(await _challenge(mallory, event_id))
        await env.rt.onsale.update("test", event_id,
                                     OnSaleSettings(waiting_room_difficulty=POW_BITS + 1))
        await _refused(mallory, url, early, "challenge",
                       "easier than this event asks now; fetch a new one")
        ch = await _challenge(mallory, event_id)
        assert ch["difficulty"] == POW_BITS + 1
        r = await mallory.post(url, json=_solved(ch))
        assert r.status_code == 200, r.text
        assert_error(await alice.get("/api/events/999999/queue/challenge"), 404,
                     "EVENT_NOT_FOUND")


async def test_difficulty_zero_needs_no_solution_and_a_room_that_is_off_asks_none(
        env: Env) -> None:
    event_id = await event_with(env, 1, 10, waiting_room=True, waiting_room_rate=1000,
                                waiting_room_difficulty=0)
    url = f"/api/events/{event_id}/queue"
    async with env.client("walk-in") as walk_in, env.client("later") as later:
        assert await _challenge(walk_in, event_id) == {
            "eventId": event_id, "difficulty": 0, "algorithm": ALGORITHM, "challenge": None,
            "expiresAt": None}
        r = await walk_in.post(url)
        assert r.status_code == 200 and r.json()["position"] == 1, r.text
        # Switched on: the next new place needs a solution; a place already given is kept.
        await env.rt.onsale.update("test", event_id,
                                     OnSaleSettings(waiting_room_difficulty=POW_BITS))
        assert_error(await later.post(url), 401, "UNAUTHENTICATED")
        assert (await walk_in.post(url)).json()["position"] == 1
        # And off again (0): no solution needed.
        await env.rt.onsale.update("test", event_id,
                                     OnSaleSettings(waiting_room_difficulty=0))
        r = await later.post(url)
        assert r.status_code == 200 and r.json()["position"] == 2, r.text
    # An automatic room before any surge admits at once: there is no queue to protect yet.
    auto = await event_with(env, 1, 10, waiting_room_auto=True, waiting_room_auto_threshold=100,
                            waiting_room_difficulty=POW_BITS)
    plain = await event_with(env, 1, 10, waiting_room_difficulty=POW_BITS)
    async with env.client("quiet") as quiet:
        r = await quiet.post(f"/api/events/{auto}/queue")
        assert r.status_code == 200 and r.json()["status"] == "admitted", r.text
        r = await quiet.post(f"/api/events/{plain}/queue")  # no room at all
        assert r.status_code == 200 and r.json()["status"] == "open", r.text


async def test_the_server_checks_a_solution_with_one_hash(env: Env,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """Counted, not timed: the solver's hashes grow as 2^bits, the server's stay at one per
    solution checked (and none for a challenge whose signature fails)."""
    bits = 16
    event_id = await event_with(env, 1, 10, waiting_room=True, waiting_room_rate=1000,
                                waiting_room_difficulty=bits)
    hashes = 0
    real = pow_mod._sha256

    def counting(data: bytes) -> Any:
        nonlocal hashes
        hashes += 1
        return real(data)

    c = await env.rt.waiting.challenge("hasher", event_id)
    assert c is not None and c.bits == bits
    wrong = _unsolved(c.token, bits)
    monkeypatch.setattr(pow_mod, "_sha256", counting)
    counter = solve(c.token, bits)
    solver_hashes, hashes = hashes, 0
    with pytest.raises(errors.ValidationFailed):
        await env.rt.waiting.join("hasher", event_id, Solution(c.token, wrong))
    assert hashes == 1
    hashes = 0
    with pytest.raises(errors.ValidationFailed):
        await env.rt.waiting.join("someone-else", event_id, Solution(c.token, counter))
    assert hashes == 0
    q = await env.rt.waiting.join("hasher", event_id, Solution(c.token, counter))
    assert q.position == 1 and hashes == 1
    assert solver_hashes == counter + 1  # about 2^16 for the solver, one for the server
