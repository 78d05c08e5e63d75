"""The waiting room's bot check: a signed, expiring proof-of-work challenge.

A challenge is `p1.<event>.<bits>.<expiresMs>.<nonce>.<HMAC>`, signed with the app's secret key
over the buyer id, event, difficulty, expiry and a random nonce; the buyer id is signed but not
written, like admission tokens, so another buyer's copy fails verification. The server keeps no
state until a solution is redeemed. A solution is a counter such that
SHA-256(challenge || counter as 8 bytes big-endian) starts with `bits` zero bits: about 2^bits
hashes to find, one hash to check. Single use is enforced by the queue script (waiting/lua),
atomically with the place it buys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from ticketing_app.domain.identity import sign_value

CHALLENGE_PREFIX = "p1"
PURPOSE = "pow"
ALGORITHM = "sha256-leading-zero-bits"
MAX_BITS = 32
# Bits asked of a buyer by default: 2^17 = 131,072 hashes on average. The page's solver did
# 113,000-240,000 WebCrypto hashes/s in Chromium on this shared 2-core machine
# (`python -m bench.pow_browser`; docs/security.md), so a phone two to four times slower than
# it solves this in about one to two seconds on average.
DEFAULT_BITS = 17
COUNTER_MAX = 2**53 - 1  # JavaScript's largest safe integer: the browser counts in doubles

_sha256 = hashlib.sha256  # the one hash of a verification (the tests count its calls)
# ASCII only: str.isdigit() also accepts "²", which int() then refuses.
_CHALLENGE = re.compile(r"p1\.(\d{1,10})\.(\d{1,2})\.(\d{1,15})\.([0-9a-f]{1,64})\.([\w-]{1,64})",
                        re.ASCII)


@dataclass(frozen=True)
class Challenge:
    event_id: int
    bits: int
    expires_at_ms: int
    nonce: str
    token: str


@dataclass(frozen=True)
class Solution:
    """What a client sends back: the challenge as issued and the counter it found."""

    challenge: str
    counter: int


class ChallengeRefused(Exception):
    """Why a solution does not count; `field` and `reason` become the error's details."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _payload(buyer_id: str, event_id: int, bits: int, expires_at_ms: int, nonce: str) -> str:
    return f"{buyer_id}|{event_id}|{bits}|{expires_at_ms}|{nonce}"


def now_ms() -> int:
    return int(time.time() * 1000)


def issue_challenge(secret: str, buyer_id: str, event_id: int, bits: int, ttl_s: int,
                    now: int | None = None) -> Challenge:
    exp = (now_ms() if now is None else now) + ttl_s * 1000
    nonce = secrets.token_hex(12)
    sig = sign_value(secret, PURPOSE, _payload(buyer_id, event_id, bits, exp, nonce), 43)
    token = f"{CHALLENGE_PREFIX}.{event_id}.{bits}.{exp}.{nonce}.{sig}"
    return Challenge(event_id, bits, exp, nonce, token)


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def solution_digest(challenge: str, counter: int) -> bytes:
    return _sha256(challenge.encode() + counter.to_bytes(8, "big")).digest()


def verify_solution(secret: str, buyer_id: str, event_id: int, solution: Solution,
                    now: int | None = None) -> Challenge:
    """The challenge when the solution counts: ours (signature), for this buyer and event, not
    expired, and the counter's hash has the challenge's leading zero bits. Cheap checks first;
    the proof itself is one SHA-256. Single use is the caller's (the queue script's) job."""
    m = _CHALLENGE.fullmatch(solution.challenge)
    if m is None:
        raise ChallengeRefused("challenge", "malformed")
    ev, bits_s, exp_s, nonce, sig = m.groups()
    c = Challenge(int(ev), int(bits_s), int(exp_s), nonce, solution.challenge)
    if c.event_id != event_id:
        raise ChallengeRefused("challenge", "issued for another event")
    expected = sign_value(secret, PURPOSE, _payload(buyer_id, c.event_id, c.bits,
                                                    c.expires_at_ms, nonce), 43)
    if not hmac.compare_digest(sig, expected):
        raise ChallengeRefused("challenge", "not issued to this buyer, or altered")
    if c.expires_at_ms <= (now_ms() if now is None else now):
        raise ChallengeRefused("challenge", "expired")
    if not 0 <= solution.counter <= COUNTER_MAX:
        raise ChallengeRefused("counter", "out of range")
    if leading_zero_bits(solution_digest(solution.challenge, solution.counter)) < c.bits:
        raise ChallengeRefused("counter", "does not solve the challenge")
    return c


def solve(challenge: str, bits: int, start: int = 0) -> int:
    """Brute force, for tests and load tools: about 2^bits hashes."""
    counter = start
    while leading_zero_bits(solution_digest(challenge, counter)) < bits:
        counter += 1
    return counter
