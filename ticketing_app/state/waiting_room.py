"""The waiting-room page's state: thin over WaitingRoomService.

Joining is idempotent per buyer (the cookie), so a reload or a second tab keeps the place. A
background task polls the place at the pace the service suggests and sends the buyer to the
seat map once admitted; the seat page finds the admission again by buyer id.

A new place while the room is on may first need the bot check: the server hands out a
challenge (kept here, server-side), the browser solves it (waiting/pow_solver.js, a Web Worker,
through `rx.call_script` with a callback) and sends back only the counter; then the buyer joins.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import reflex as rx
import structlog

from ticketing_app.bootstrap import Runtime, get_runtime
from ticketing_app.domain import errors
from ticketing_app.domain.pow import Solution
from ticketing_app.i18n import _
from ticketing_app.routes import event_url
from ticketing_app.services.waiting_room import QueueStatus
from ticketing_app.state.base import BuyerState
from ticketing_app.state.messages import challenge_error_text
from ticketing_app.waiting.solver import solve_script

log = structlog.get_logger(__name__)

MAX_WATCH_S = 3600  # a forgotten tab stops polling after an hour; a reload starts it again
# Fresh challenges a page asks for in a row when a solution does not count (a slow device let
# one expire, or the organiser raised the difficulty meanwhile) before it asks the buyer.
MAX_CHECKS = 3


def event_id_from_path(path: str) -> int:
    parts = [p for p in path.split("?")[0].split("/") if p]
    return int(parts[1]) if len(parts) > 1 and parts[0] == "event" and parts[1].isdigit() else 0


def wait_text(seconds: int | None) -> str:
    if seconds is None:
        return _("Admission is paused; your place is kept.")
    if seconds < 60:
        # Translators: an estimated wait in seconds, e.g. "about 40 s".
        return _("about {n} s", n=max(1, seconds))
    # Translators: an estimated wait in minutes, e.g. "about 3 min".
    return _("about {n} min", n=round(seconds / 60))


class WaitingRoomState(BuyerState):
    event_id: rx.Field[int] = rx.field(0)
    title: rx.Field[str] = rx.field("")
    status: rx.Field[str] = rx.field("")
    position: rx.Field[int] = rx.field(0)
    people_ahead: rx.Field[int] = rx.field(0)
    estimated_wait: rx.Field[str] = rx.field("")
    not_found: rx.Field[bool] = rx.field(False)
    check_error: rx.Field[str] = rx.field("")  # why the bot check failed, for the buyer
    _watching: bool = False
    _challenge: str = ""  # the challenge being solved: the browser only sends its counter
    _checks: int = 0

    def _show(self, q: QueueStatus) -> None:
        self.status = q.status
        self.position = q.position or 0
        self.people_ahead = q.people_ahead
        self.estimated_wait = wait_text(q.estimated_wait_s)

    @rx.event
    async def join(self) -> Any:
        rt = await get_runtime()
        event_id = event_id_from_path(self.router.url.path)
        try:
            ev = await rt.catalog.public_event(event_id)
        except errors.EventNotFound:
            self.not_found = True
            return None
        self.not_found = False
        self.event_id, self.title = event_id, ev.title
        self._checks, self.check_error = 0, ""
        try:
            q = await rt.waiting.join(self.buyer(), event_id)
        except errors.ChallengeRequired:
            return await self._check_browser(rt)
        return self._entered(q)

    def _entered(self, q: QueueStatus) -> Any:
        self._show(q)
        if q.may_enter:
            return rx.redirect(event_url(self.event_id), replace=True)
        return WaitingRoomState.watch

    async def _check_browser(self, rt: Runtime) -> Any:
        """Hand the browser a fresh challenge to solve; `solved` gets its answer."""
        c = await rt.waiting.challenge(self.buyer(), self.event_id)
        if c is None:  # the organiser switched the check off meanwhile
            try:
                return self._entered(await rt.waiting.join(self.buyer(), self.event_id))
            except errors.ChallengeRequired as exc:  # ... and on again
                self.status, self.check_error = "check_failed", challenge_error_text(exc.code)
                return None
        self._checks += 1
        self._challenge = c.token
        self.status = "checking"
        return rx.call_script(solve_script(c.token, c.bits), callback=WaitingRoomState.solved)

    @rx.event
    async def solved(self, result: dict[str, Any]) -> Any:
        """The browser's answer: `{counter, ms, hashes}` or `{error}`."""
        rt = await get_runtime()
        counter = result.get("counter") if isinstance(result, dict) else None
        if not isinstance(counter, int) or isinstance(counter, bool) or not self._challenge:
            reason = result.get("error") if isinstance(result, dict) else None
            self.status, self.check_error = "check_failed", challenge_error_text(str(reason))
            return None
        solution = Solution(self._challenge, counter)
        self._challenge = ""
        # What solving costs real browsers: the numbers behind the default difficulty.
        log.info("browser_check_solved", event_id=self.event_id, ms=result.get("ms"),
                 hashes=result.get("hashes"), mode=result.get("mode"))
        try:
            q = await rt.waiting.join(self.buyer(), self.event_id, solution)
        except (errors.ValidationFailed, errors.ChallengeRequired) as exc:
            if self._checks < MAX_CHECKS:
                return await self._check_browser(rt)
            self.status, self.check_error = "check_failed", challenge_error_text(exc.code)
            return None
        return self._entered(q)

    @rx.event(background=True)
    async def watch(self) -> Any:
        async with self:
            if self._watching:
                return
            self._watching = True
            buyer, event_id = self.buyer(), self.event_id
        try:
            rt = await get_runtime()
            give_up = time.monotonic() + MAX_WATCH_S
            while time.monotonic() < give_up:
                try:
                    q = await rt.waiting.poll(buyer, event_id)
                except errors.NotFound:  # the organiser reset the queue: take a new place
                    try:
                        q = await rt.waiting.join(buyer, event_id)
                    except errors.ChallengeRequired:  # ... which needs the bot check again
                        yield WaitingRoomState.join
                        return
                async with self:
                    self._show(q)
                if q.may_enter:
                    yield rx.redirect(event_url(event_id), replace=True)
                    return
                if q.status == "expired":
                    return
                await asyncio.sleep(q.poll_after_ms / 1000)
        finally:
            async with self:
                self._watching = False
