"""Read sessions on PostgreSQL run in autocommit (no BEGIN/ROLLBACK round trips), so a read
that needs one snapshot across statements (the audit) takes a session of its own."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from tests.conftest import Env
from ticketing_app.services.audit import _snapshot_isolation

pytestmark = pytest.mark.integration


async def test_the_audit_reads_one_snapshot_while_plain_reads_skip_the_transaction(
    env: Env,
) -> None:
    db = env.rt.db
    if not db.is_postgres:
        pytest.skip("SQLite's read transaction is one snapshot already (WAL)")
    async with db.snapshot_sessions() as s:
        await _snapshot_isolation(s, db)
        level = (await s.execute(text("SHOW transaction_isolation"))).scalar_one()
        first = (await s.execute(text("SELECT now()"))).scalar_one()
        await asyncio.sleep(0.02)
        second = (await s.execute(text("SELECT now()"))).scalar_one()
        assert level == "repeatable read"
        assert first == second  # one transaction: now() is its start
    async with db.read_sessions() as s:
        assert (await s.execute(text("SHOW transaction_isolation"))).scalar_one() == \
            "read committed"
        first = (await s.execute(text("SELECT now()"))).scalar_one()
        await asyncio.sleep(0.02)
        second = (await s.execute(text("SELECT now()"))).scalar_one()
        assert second > first  # each statement is a transaction of its own
