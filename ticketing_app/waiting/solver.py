"""The browser's side of the bot check: `pow_solver.js`, handed to the page as one expression."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SOLVER_JS = Path(__file__).parent / "pow_solver.js"


@cache
def solver_source() -> str:
    """The solver: an async function expression (challenge, bits, options) -> result."""
    return SOLVER_JS.read_text()


def solve_script(challenge: str, bits: int) -> str:
    """JavaScript that solves one challenge; evaluates to a Promise of the solver's result."""
    return f"({solver_source()})({json.dumps(challenge)}, {int(bits)})"
