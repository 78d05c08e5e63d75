"""Helpers for the on-sale tests: events with tiers and aisles, row scans for orphans, seat
state reads."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Env
from ticketing_app.domain.seat_layout import Layout
from ticketing_app.holds.answers import Snapshot
from ticketing_app.services.admin import GridSpec, TierSpec


def redis_only(env: Env) -> None:
    """Rules that live entirely in one Redis script run once, not once per database."""
    if env.backend != "sqlite":
        pytest.skip("Redis-only rule: the database backend takes no part (run on sqlite)")


async def event_with(env: Env, rows: int, cols: int, gaps: frozenset[tuple[int, int]] = frozenset(),
                     tiers: list[TierSpec] | None = None, **settings: Any) -> int:
    venue = await env.rt.admin.create_venue("test", f"Hall {uuid.uuid4().hex[:6]}",
                                            [GridSpec("Main", rows, cols, gaps)])
    ev = await env.rt.admin.create_event(
        "test", title=f"On-sale {uuid.uuid4().hex[:6]}",
        starts_at=datetime.now(UTC) + timedelta(days=7), venue_id=int(venue.id or 0),
        tiers=tiers or [TierSpec("Standard", 50000)], status=settings.pop("status", "ON_SALE"),
        **settings)
    return int(ev.id or 0)


def taken(snap: Snapshot, seat_id: int) -> bool:
    """Held (live), in an order, sold or blocked: nobody else can have it."""
    return snap.public_code(seat_id) != "A"


def rows_of(layout: Layout) -> list[list[tuple[int, int]]]:
    """Each physical row's seats as (column, seat id), by column."""
    rows: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    for s in layout.seats:
        rows[(s.section, s.r)].append((s.c, s.id))
    return [sorted(r) for _, r in sorted(rows.items())]


def orphans(snap: Snapshot, layout: Layout) -> list[int]:
    """Free seats whose left and right neighbours (next column, same row) are both taken."""
    found = []
    for row in rows_of(layout):
        at = dict(row)
        for c, sid in row:
            left, right = at.get(c - 1), at.get(c + 1)
            if (left is not None and right is not None and not taken(snap, sid)
                    and taken(snap, left) and taken(snap, right)):
                found.append(sid)
    return found


def seats_of(snap: Snapshot, buyer: str) -> set[int]:
    """Every seat the buyer has now: live holds, order locks, sales."""
    return {sid for sid, st in snap.states.items()
            if st.buyer == buyer and snap.public_code(sid) in ("H", "S")}
