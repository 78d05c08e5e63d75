"""Three ways to hold a seat, behind one small interface, for scenario 4.

- `OursLua`: the platform's real `hold.lua` through `HoldStore`; a sale is the real
  `lock_order.lua` + `confirm.lua` (the sold check lives inside the same atomic script).
- `OriginalBaseline`: BASELINE ONLY, not platform code. The original system's approach as its
  contract describes it: a separate "is it sold?" check, then `SET hold NX EX ttl`; a sale
  marks the seat sold, then deletes the hold. Two round trips per hold, and a gap between them.
- `RowLock`: a database row lock: `SELECT ... FOR UPDATE` on PostgreSQL in one transaction per
  hold and per sale (a bench-only table).

Each answers hold() with "OK", "CONFLICT" or "SOLD", and sell() with True when it sold.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Protocol

import psycopg
from redis.asyncio import Redis

from ticketing_app.domain import errors
from ticketing_app.holds.store import HoldStore

HOLD_TTL_S = 30


class Strategy(Protocol):
    name: str
    label: str

    async def hold(self, seat: int, buyer: str, conn: int) -> str: ...

    async def sell(self, seat: int, buyer: str, conn: int) -> bool: ...


class OursLua:
    name = "ours"
    label = "ours: hold.lua (sold check inside the script)"

    def __init__(self, store: HoldStore, event_id: int):
        self.store = store
        self.event_id = event_id

    async def hold(self, seat: int, buyer: str, conn: int) -> str:
        try:
            await self.store.hold(self.event_id, buyer, "t", [seat], HOLD_TTL_S)
        except errors.SeatSold:
            return "SOLD"
        except errors.ReservationConflict:
            return "CONFLICT"
        return "OK"

    async def sell(self, seat: int, buyer: str, conn: int) -> bool:
        token = uuid.uuid4().hex
        deadline = int((time.time() + 120) * 1000)
        try:
            await self.store.lock_for_order(self.event_id, buyer, token, deadline, [seat])
        except errors.DomainError:
            return False
        return not await self.store.confirm(self.event_id, token, buyer, [seat])


class OriginalBaseline:
    """BASELINE ONLY: reproduces the original's non-atomic hold for comparison."""

    name = "original"
    label = "original: sold check, then SET NX (baseline)"

    def __init__(self, redis: Redis, prefix: str = "orig"):
        self.redis = redis
        self.sold_key = f"{prefix}:sold"
        self.prefix = prefix

    def _hold_key(self, seat: int) -> str:
        return f"{self.prefix}:hold:{seat}"

    async def hold(self, seat: int, buyer: str, conn: int) -> str:
        if await self.redis.sismember(self.sold_key, str(seat)):  # type: ignore[misc]
            return "SOLD"
        ok = await self.redis.set(self._hold_key(seat), buyer, nx=True, ex=HOLD_TTL_S)
        return "OK" if ok else "CONFLICT"

    async def sell(self, seat: int, buyer: str, conn: int) -> bool:
        holder = await self.redis.get(self._hold_key(seat))
        if holder is None or holder.decode() != buyer:
            return False
        await self.redis.sadd(self.sold_key, str(seat))  # type: ignore[misc]
        await self.redis.delete(self._hold_key(seat))
        return True


ROW_LOCK_TABLE = "bench_row_lock_seats"


class RowLock:
    """A transaction per call; the row lock serialises everyone on one seat."""

    name = "row_lock"
    label = "row lock: SELECT ... FOR UPDATE (PostgreSQL)"

    def __init__(self, conns: Sequence[psycopg.AsyncConnection]):
        self.conns = list(conns)

    @staticmethod
    async def setup(conn: psycopg.AsyncConnection, seats: Sequence[int]) -> None:
        await conn.execute(f"DROP TABLE IF EXISTS {ROW_LOCK_TABLE}")
        await conn.execute(
            f"CREATE TABLE {ROW_LOCK_TABLE} (id int PRIMARY KEY, status text NOT NULL DEFAULT "
            "'AVAILABLE', holder text, held_until timestamptz)")
        async with conn.cursor() as cur:
            await cur.executemany(f"INSERT INTO {ROW_LOCK_TABLE} (id) VALUES (%s)",
                                  [(s,) for s in seats])
        await conn.commit()

    async def hold(self, seat: int, buyer: str, conn: int) -> str:
        c = self.conns[conn]
        async with c.transaction():
            row = await (await c.execute(
                f"SELECT status, holder, held_until > now() FROM {ROW_LOCK_TABLE} "
                "WHERE id = %s FOR UPDATE", (seat,))).fetchone()
            assert row is not None
            status, holder, live = row
            if status == "SOLD":
                return "SOLD"
            if holder and live and holder != buyer:
                return "CONFLICT"
            await c.execute(f"UPDATE {ROW_LOCK_TABLE} SET holder = %s, held_until = now() + "
                            "make_interval(secs => %s) WHERE id = %s", (buyer, HOLD_TTL_S, seat))
        return "OK"

    async def sell(self, seat: int, buyer: str, conn: int) -> bool:
        c = self.conns[conn]
        async with c.transaction():
            row = await (await c.execute(
                f"SELECT status, holder FROM {ROW_LOCK_TABLE} WHERE id = %s FOR UPDATE",
                (seat,))).fetchone()
            if row is None or row[0] == "SOLD" or row[1] != buyer:
                return False
            await c.execute(f"UPDATE {ROW_LOCK_TABLE} SET status = 'SOLD', holder = NULL "
                            "WHERE id = %s", (seat,))
        return True
