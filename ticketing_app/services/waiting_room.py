"""The virtual waiting room: queue places, the pace of admission and admission tokens.

Redis holds the queue (waiting/lua): an atomic counter gives each arriving buyer a place
(kept across reloads: places are keyed by buyer id), a serving counter admits places in order
at the event's admission rate (and under its capacity), and an admitted place gets one signed,
short-lived token (domain/admission.py). While the room is on, the hold scripts refuse new
claims without a token of the room's current epoch, atomically with the claim itself.

In front of a new place stands the bot check (domain/pow.py): while the room is on and the
event's difficulty is above 0, a place costs a solved proof-of-work challenge. The challenge is
signed and stateless until redeemed; the server checks a solution with one hash, and the join
script spends it once, in the same step as the place it buys.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import structlog

from ticketing_app.db.models import Event
from ticketing_app.domain import errors
from ticketing_app.domain.admission import (
    Admission,
    issue_admission_token,
    verify_admission_token,
)
from ticketing_app.domain.events import iso, ms_to_dt
from ticketing_app.domain.pow import (
    Challenge,
    ChallengeRefused,
    Solution,
    issue_challenge,
    verify_solution,
)
from ticketing_app.domain.pow import now_ms as clock_ms
from ticketing_app.holds.keys import WAITING_EVENTS, EventKeys
from ticketing_app.holds.store import HoldStore
from ticketing_app.observability import metrics
from ticketing_app.settings import Settings
from ticketing_app.waiting.scripts import RoomScripts

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ticketing_app.services.catalog import CatalogService

log = structlog.get_logger(__name__)

def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


@dataclass(frozen=True)
class QueueStatus:
    """One buyer's place, as the REST API and the waiting-room page show it."""

    event_id: int
    # open | waiting | admitted | expired; the web app's gate also says `challenge` (a new
    # place needs the bot check first), where the REST API answers 401
    status: str
    position: int | None = None
    serving: int = 0
    people_ahead: int = 0
    estimated_wait_s: int | None = None
    room_on: bool = False
    token: str | None = None
    token_expires_at_ms: int | None = None
    admitted_at_ms: int | None = None

    @property
    def may_enter(self) -> bool:
        return self.status in ("open", "admitted")

    def public(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "status": self.status,
            "position": self.position,
            "peopleAhead": self.people_ahead,
            "estimatedWaitSeconds": self.estimated_wait_s,
            "roomOn": self.room_on,
            "admissionToken": self.token,
            "tokenExpiresAt": iso(ms_to_dt(self.token_expires_at_ms))
            if self.token_expires_at_ms else None,
            "admittedAt": iso(ms_to_dt(self.admitted_at_ms)) if self.admitted_at_ms else None,
            "pollAfterMs": self.poll_after_ms,
        }

    @property
    def poll_after_ms(self) -> int:
        """Poll about ten times before the estimated admission, every 0.5-5 s."""
        if self.status != "waiting" or self.estimated_wait_s is None:
            return 2000
        return max(500, min(5000, self.estimated_wait_s * 100))


class WaitingRoomService:
    """The queues live in Redis (`redis`, the room scripts); `catalog` and `holds` find and
    load the event they gate; `settings` for the tokens' secret and lifetimes."""

    def __init__(self, redis: Redis, holds: HoldStore, catalog: CatalogService,
                 settings: Settings) -> None:
        self.redis = redis
        self.holds = holds
        self.catalog = catalog
        self.settings = settings
        self.scripts = RoomScripts(redis)

    @property
    def _ttl_ms(self) -> int:
        return self.settings.waiting_room_token_ttl_s * 1000

    async def _visible_event(self, event_id: int) -> Event:
        return await self.catalog.public_event(event_id)

    async def _ensure_loaded(self, event_id: int) -> None:
        if not await self.holds.is_loaded(event_id):
            await self.catalog.load_event_state(event_id)

    async def _place(self, buyer: str, event_id: int, create: bool,
                     solved: Challenge | None = None) -> list[Any]:
        await self._visible_event(event_id)
        await self._ensure_loaded(event_id)
        s = self.settings
        keys = EventKeys(event_id)
        res = await self.scripts["join"](
            keys=[*keys.waiting_keys(), keys.challenge_used(solved.nonce if solved else "-")],
            args=[event_id, buyer, self._ttl_ms, secrets.token_hex(8),
                  s.waiting_room_auto_cooldown_s * 1000, "1" if create else "0",
                  solved.bits if solved else "",
                  solved.expires_at_ms - clock_ms() if solved else 0])
        out = [_s(x) if isinstance(x, bytes) else x for x in res]
        if out[0] != "OFF":
            await self.redis.sadd(WAITING_EVENTS, event_id)  # type: ignore[misc]
        return out

    def _status(self, buyer: str, event_id: int, res: list[Any]) -> QueueStatus:
        code = res[0]
        if code == "OFF":
            return QueueStatus(event_id, "open")
        if code == "EXPIRED":
            return QueueStatus(event_id, "expired", position=int(res[1]), room_on=True)
        pos, serving = int(res[1]), int(res[2])
        if code == "WAITING":
            rate, on = float(res[4]), bool(int(res[5]))
            left = pos - serving
            wait = math.ceil(left / rate) if rate > 0 else None
            return QueueStatus(event_id, "waiting", position=pos, serving=serving,
                               people_ahead=left - 1, estimated_wait_s=wait, room_on=on)
        exp, admitted_at, epoch = int(res[4]), int(res[5]), str(res[6])
        token = issue_admission_token(self.settings.secret_key, buyer,
                                      Admission(event_id, pos, exp, epoch))
        return QueueStatus(event_id, "admitted", position=pos, serving=serving, room_on=True,
                           token=token, token_expires_at_ms=exp, admitted_at_ms=admitted_at)

    async def join(self, buyer: str, event_id: int,
                   solution: Solution | None = None) -> QueueStatus:
        """Take a place (or the one this buyer already has). Idempotent per buyer. A new place
        while the room is on needs `solution` when the event's bot check is on: without one,
        ChallengeRequired (401); a solution that does not count, ValidationFailed (422)."""
        solved = self._check_solution(buyer, event_id, solution) if solution else None
        res = await self._place(buyer, event_id, create=True, solved=solved)
        code = res[0]
        if code == "CHALLENGE":
            metrics.WAITING_ROOM_CHALLENGES.labels("missing").inc()
            raise errors.ChallengeRequired(
                f"The waiting room checks for bots: solve a challenge from "
                f"GET /api/events/{event_id}/queue/challenge and send the solution when "
                f"joining.", [{"field": "challenge", "message": "missing"}])
        if code == "EASY":
            self._refuse(ChallengeRefused("challenge", "easier than this event asks now; "
                                                       "fetch a new one"))
        if code == "USED":
            self._refuse(ChallengeRefused("challenge", "already used"))
        if solved is not None and code in ("WAITING", "ADMITTED"):
            metrics.WAITING_ROOM_CHALLENGES.labels("redeemed").inc()
        return self._status(buyer, event_id, res)

    # ---- the bot check ---------------------------------------------------------------------
    async def challenge(self, buyer: str, event_id: int) -> Challenge | None:
        """A fresh challenge for this buyer and event, or None when the event's bot check is
        off. Stateless: nothing is stored until a solution is redeemed."""
        await self._visible_event(event_id)
        bits = await self.difficulty(event_id)
        if bits <= 0:
            return None
        metrics.WAITING_ROOM_CHALLENGES.labels("issued").inc()
        return issue_challenge(self.settings.secret_key, buyer, event_id, bits,
                               self.settings.waiting_room_challenge_ttl_s)

    async def difficulty(self, event_id: int) -> int:
        """The bits the join script asks for now (Redis: the same value it enforces)."""
        await self._ensure_loaded(event_id)
        bits = await self.redis.hget(EventKeys(event_id).meta, "wrpow")  # type: ignore[misc]
        return int(bits or 0)

    def _check_solution(self, buyer: str, event_id: int, solution: Solution) -> Challenge:
        try:
            return verify_solution(self.settings.secret_key, buyer, event_id, solution)
        except ChallengeRefused as exc:
            self._refuse(exc)

    @staticmethod
    def _refuse(exc: ChallengeRefused) -> NoReturn:
        metrics.WAITING_ROOM_CHALLENGES.labels(f"refused:{exc.reason.split(';')[0]}").inc()
        raise errors.ValidationFailed("The waiting room's challenge was not solved correctly.",
                                      [{"field": exc.field, "message": exc.reason}]) from exc

    async def poll(self, buyer: str, event_id: int) -> QueueStatus:
        res = await self._place(buyer, event_id, create=False)
        if res[0] == "NONE":
            raise errors.NotFound("You are not in this event's queue; join it first.",
                                  [{"field": "eventId", "message": "not in the queue"}])
        return self._status(buyer, event_id, res)

    # ---- admission checks (hold API, best available, seat page) --------------------------
    def verify(self, buyer: str, event_id: int, token: str | None) -> Admission | None:
        if not token:
            return None
        return verify_admission_token(self.settings.secret_key, buyer, event_id, token)

    def admission_epoch(self, buyer: str, event_id: int, token: str | None) -> str:
        """What the hold scripts need: the verified token's epoch, or '' (they decide whether
        the room is on, atomically with the claim)."""
        a = self.verify(buyer, event_id, token)
        return a.epoch if a else ""

    async def room_is_on(self, event_id: int) -> bool:
        """Whether entering the event's seat page needs an admission now."""
        loaded, mode, until, _ = await self._meta(event_id)
        if not loaded:
            await self.catalog.load_event_state(event_id)
            loaded, mode, until, _ = await self._meta(event_id)
        if mode == "off":
            return False
        now_s, now_us = await self.redis.time()
        return mode == "on" or (mode == "auto" and int(now_s) * 1000 + int(now_us) // 1000 < until)

    async def may_enter(self, buyer: str, event_id: int, token: str | None) -> bool:
        """The gate for a client that carries its token: the room is off, or the token is
        valid for the room's current epoch."""
        if not await self.room_is_on(event_id):
            return True
        a = self.verify(buyer, event_id, token)
        return a is not None and a.epoch == (await self._meta(event_id))[3]

    async def entry(self, buyer: str, event_id: int) -> QueueStatus:
        """The seat page's gate, for the web app (whose buyer is its cookie, so the place, and
        the one token of that place, are found by buyer id). No room: `open`. Otherwise the
        visit is an arrival (joining is idempotent per buyer): in automatic mode before a
        surge it is admitted at once and gets its token, so a surge later does not lock out a
        buyer already shopping; otherwise the place, and the page sends the buyer to the
        waiting room until it is `admitted`."""
        loaded, mode, _, _ = await self._meta(event_id)
        if loaded and mode == "off":
            return QueueStatus(event_id, "open")
        try:
            return await self.join(buyer, event_id)
        except errors.ChallengeRequired:
            return QueueStatus(event_id, "challenge", room_on=True)

    async def _meta(self, event_id: int) -> tuple[bool, str, int, str]:
        loaded, mode, until, epoch = await self.redis.hmget(  # type: ignore[misc]
            EventKeys(event_id).meta, ["loaded", "wrmode", "wron_until", "wrepoch"])
        return (_s(loaded) == "1" if loaded else False, _s(mode) if mode else "off",
                int(until or 0), _s(epoch) if epoch else "")

    # ---- pacing ----------------------------------------------------------------------------
    async def advance(self, event_id: int) -> tuple[int, int, bool]:
        """(serving, last place given, room on). Safe to call from any number of processes."""
        res = await self.scripts["advance"](keys=EventKeys(event_id).waiting_keys(),
                                            args=[event_id, self._ttl_ms])
        return int(res[0]), int(res[1]), bool(int(res[2]))

    async def advance_all(self) -> int:
        events = [int(_s(e)) for e in await self.redis.smembers(WAITING_EVENTS)]  # type: ignore[misc]
        for event_id in events:
            serving, _, _ = await self.advance(event_id)
            if serving < 0:  # the room was switched off
                await self.redis.srem(WAITING_EVENTS, event_id)  # type: ignore[misc]
        return len(events)

    async def checkpoints(self, event_id: int) -> list[tuple[int, int]]:
        """(serving, ms) after each advance that admitted someone, oldest first: the record
        the fairness and pace tests read."""
        raw = await self.redis.zrange(f"{EventKeys(event_id).base}:wa", 0, -1)
        out = []
        for m in raw:
            serving, at = _s(m).split(":")
            out.append((int(serving), int(at)))
        return out

    async def issued(self, event_id: int) -> dict[int, str]:
        """Position -> buyer of every admission token issued (one per place)."""
        raw = await self.redis.hgetall(f"{EventKeys(event_id).base}:wi")  # type: ignore[misc]
        return {int(_s(k)): _s(v).split("|")[0] for k, v in raw.items()}

    async def reset(self, event_id: int) -> None:
        """Empty the queue and invalidate every admission token issued (a new epoch)."""
        k = EventKeys(event_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(*k.waiting_keys()[1:])
        pipe.hset(k.meta, "wrepoch", secrets.token_hex(8))
        pipe.hdel(k.meta, "wron_until")
        await pipe.execute()
        log.info("waiting_room_reset", event_id=event_id)
