"""The per-process screen in front of the abuse limits.

The limits themselves are counted by the hold scripts in Redis, inside the hold's own round
trip. Once a script has said a buyer or an address is over its limit for this minute, the
screen remembers it, so the rest of that minute is refused (429) from memory: a flood costs
no Redis round trip, and a 429 is as cheap as any refusal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_ENTRIES = 100_000  # a bot farm of many identities cannot grow it without bound


@dataclass
class ThrottleScreen:
    # (scope, ident) -> (until, limit) in the clock the caller passes (monotonic seconds)
    _until: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)

    def remember(self, scope: str, ident: str, retry_after_s: float, limit: int,
                 now: float) -> None:
        if not ident:
            return
        if len(self._until) >= MAX_ENTRIES:
            self.prune(now)
            if len(self._until) >= MAX_ENTRIES:
                self._until.pop(next(iter(self._until)))
        self._until[(scope, ident)] = (now + retry_after_s, limit)

    def refused(self, scope: str, ident: str, now: float) -> tuple[int, int] | None:
        """(seconds to wait, the limit) while a remembered verdict lasts, else None."""
        entry = self._until.get((scope, ident))
        if entry is None:
            return None
        until, limit = entry
        if until <= now:
            del self._until[(scope, ident)]
            return None
        return max(1, int(until - now + 0.999)), limit

    def prune(self, now: float) -> None:
        for key in [k for k, (until, _) in self._until.items() if until <= now]:
            del self._until[key]
