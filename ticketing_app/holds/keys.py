"""Redis key names. Every key of one event carries the hash tag `{e<id>}`, so all of an
event's keys land on one Redis Cluster slot and its Lua scripts stay atomic when events are
sharded across nodes."""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "tk"
ACTIVE_EVENTS = f"{PREFIX}:active-events"  # SET of event ids with Redis state (the sweeper's list)
PAYMENT_CHANNEL_PREFIX = f"{PREFIX}:pay:"  # + payment id: the worker announces an outcome
PROVIDER_LEDGER_PREFIX = f"{PREFIX}:provider:charge:"  # + payment id: simulated provider's record
RATE_PREFIX = f"{PREFIX}:rate:"
LIVE_PATTERN = f"{PREFIX}:{{e*}}:ch"
EVENT_LOAD_LOCK_SUFFIX = "loading"
WAITING_EVENTS = f"{PREFIX}:waiting-events"  # SET of event ids whose waiting room is not off
# The relay counts broker data losses here; consumers re-read their partitions when it moves.
BROKER_GENERATION = f"{PREFIX}:kafka:broker-generation"


@dataclass(frozen=True)
class EventKeys:
    event_id: int

    @property
    def base(self) -> str:
        return f"{PREFIX}:{{e{self.event_id}}}"

    @property
    def meta(self) -> str:
        return f"{self.base}:meta"

    @property
    def channel(self) -> str:
        return f"{self.base}:ch"

    @property
    def load_lock(self) -> str:
        return f"{self.base}:{EVENT_LOAD_LOCK_SUFFIX}"

    def script_keys(self) -> list[str]:
        """The KEYS every script takes, in the order `lua/_lib.lua` documents."""
        b = self.base
        return [
            f"{b}:meta", f"{b}:st", f"{b}:exp", f"{b}:own", f"{b}:ver",
            f"{b}:loc", f"{b}:pos", f"{b}:mine", f"{b}:ch", f"{b}:tr", self.holds_per_minute,
            self.change_log,
        ]

    @property
    def change_log(self) -> str:
        """STREAM of the recent changes, entry id = version (lua/_lib.lua, `publish`): what
        the SSE stream replays to a client that reconnects with Last-Event-ID."""
        return f"{self.base}:log"

    @property
    def holds_per_minute(self) -> str:
        """HASH minute -> seats newly held (the admin dashboard's holds per minute)."""
        return f"{self.base}:hpm"

    @property
    def presale_buyers(self) -> str:
        """HASH buyer -> access code id: who redeemed a presale code (the hold scripts'
        KEYS[15]). Not among `all_keys`: a rebuild of the event's seats keeps it."""
        return f"{self.base}:pre"

    def attempts(self, scope: str, ident: str, window: int) -> str:
        """STRING: new-claim attempts of one buyer (`b`) or client address (`a`) in one
        one-minute window (the abuse limits, counted by the hold scripts in the event's slot)."""
        return f"{self.base}:rl:{scope}:{ident}:{window}"

    def waiting_keys(self) -> list[str]:
        """The KEYS of the waiting-room scripts, in the order `waiting/lua/_lib.lua` documents."""
        b = self.base
        return [f"{b}:meta", f"{b}:wr", f"{b}:wq", f"{b}:wi", f"{b}:wa"]

    def challenge_used(self, nonce: str) -> str:
        """Set (with the challenge's remaining lifetime) when a bot-check challenge of this
        event buys a place: a solution counts once (waiting/lua/join.lua)."""
        return f"{self.base}:wp:{nonce}"

    def all_keys(self) -> list[str]:
        return [*(k for k in self.script_keys() if k != self.channel),
                *self.waiting_keys()[1:], self.load_lock]


def event_id_from_channel(channel: str) -> int | None:
    """`tk:{e42}:ch` -> 42."""
    try:
        start = channel.index("{e") + 2
        return int(channel[start : channel.index("}", start)])
    except ValueError:
        return None
