"""The simulated payment provider (by design: there is no real one).

It behaves like a provider with idempotency keys: charging the same payment id twice returns
the first result without charging again, so a job retried after a crash cannot double-charge.
Latency and the success ratio are settings; tests force an outcome, or a hang.
"""

from __future__ import annotations

import asyncio
import random
import secrets

from redis.asyncio import Redis

from ticketing_app.holds.keys import PROVIDER_LEDGER_PREFIX
from ticketing_app.settings import Settings

LEDGER_TTL_S = 7 * 24 * 3600
# The simulator's console: when set (success | fail | hang), it overrides PAYMENT_FORCE_OUTCOME
# for every worker at once, like a provider's test mode. `ticketing provider-mode` sets it.
MODE_KEY = f"{PROVIDER_LEDGER_PREFIX}mode"
# KEYS: ledger record, charge count; ARGV: record, ttl. Returns the count, or 0 when the
# payment was already charged.
_RECORD_CHARGE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
"""


class SimulatedProvider:
    def __init__(self, redis: Redis, settings: Settings, rng: random.Random | None = None):
        self.redis = redis
        self.settings = settings
        self.rng = rng or random.Random()
        self._record = redis.register_script(_RECORD_CHARGE)  # EVALSHA after the first call

    async def charge(self, payment_id: int, amount: int, currency: str) -> tuple[bool, str]:
        """(approved, provider reference)."""
        key = f"{PROVIDER_LEDGER_PREFIX}{payment_id}"
        previous, raw_mode = await self.redis.mget(key, MODE_KEY)  # one round trip
        if previous is not None:
            return self._parse(previous)
        s = self.settings
        mode = (raw_mode.decode() if isinstance(raw_mode, bytes) else raw_mode) or \
            s.payment_force_outcome
        if mode == "hang":
            await asyncio.sleep(3600)
        lo, hi = s.payment_latency_min_ms, max(s.payment_latency_min_ms, s.payment_latency_max_ms)
        await asyncio.sleep(self.rng.uniform(lo, hi) / 1000)
        if mode in ("success", "fail"):
            approved = mode == "success"
        else:
            approved = self.rng.random() < s.payment_success_rate
        value = f"{'ok' if approved else 'declined'}:psim_{secrets.token_hex(6)}"
        # First writer wins; a concurrent duplicate call reads the winner's result. The record
        # and the charge count are one atomic step, so a worker killed right after charging
        # cannot leave a charge that was never counted.
        won = await self._record(keys=[key, f"{PROVIDER_LEDGER_PREFIX}count:{payment_id}"],
                                 args=[value, LEDGER_TTL_S])
        if not won:
            return self._parse(await self.redis.get(key) or value)
        return approved, value.split(":", 1)[1]

    @staticmethod
    def _parse(raw: bytes | str) -> tuple[bool, str]:
        text = raw.decode() if isinstance(raw, bytes) else raw
        verdict, ref = text.split(":", 1)
        return verdict == "ok", ref
