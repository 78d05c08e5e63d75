"""Idempotency keys (Stripe's semantics, the IETF Idempotency-Key draft's status codes): the
claims and stored answers. What a key is and the request's fingerprint are pure rules
(`domain/idempotency.py`).

A key belongs to one buyer. The first request stores its response, errors included; the same
key and body returns it; a different body is 422; a retry while the first is still running is
409; a first request that died mid-way is taken over once its lease has lapsed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from ticketing_app.db.engine import Database
from ticketing_app.db.models import IdempotencyRecord
from ticketing_app.db.statements import (
    COMPLETE_CLAIM,
    INSERT_CLAIM,
    complete_claim_params,
    new_row,
)
from ticketing_app.domain import errors


@dataclass(frozen=True)
class Claim:
    """Either a stored response to replay, or the right to run the request."""

    record_id: int
    lock_token: str
    replay: tuple[int, dict[str, Any]] | None = None
    taken_over: bool = False  # a retry took over a first attempt that died mid-way


class IdempotencyStore:
    def __init__(self, db: Database, lease_s: int):
        self.db = db
        self.lease = timedelta(seconds=lease_s)

    async def claim(self, buyer: str, key: str, method: str, path: str, fingerprint: str) -> Claim:
        token = uuid.uuid4().hex
        rec = new_row(IdempotencyRecord, buyer_id=buyer, key=key, method=method, path=path,
                      request_hash=fingerprint, lock_token=token)
        try:  # a prebuilt Core insert, its own transaction: every order pays for this claim
            record_id = (await self.db.write_one(INSERT_CLAIM, rec)).scalar_one()
            return Claim(int(record_id), token)
        except IntegrityError:
            return await self._existing(buyer, key, fingerprint)

    async def _existing(self, buyer: str, key: str, fingerprint: str) -> Claim:
        async with self.db.write_sessions() as s:
            rec = (
                await s.execute(
                    select(IdempotencyRecord).where(
                        col(IdempotencyRecord.buyer_id) == buyer, col(IdempotencyRecord.key) == key
                    )
                )
            ).scalar_one()
            if rec.request_hash != fingerprint:
                raise errors.IdempotencyKeyReused()
            if rec.status == "COMPLETED":
                return Claim(
                    int(rec.id or 0),
                    rec.lock_token,
                    (int(rec.response_code or 200), dict(rec.response_body or {})),
                )
            now = datetime.now(UTC)
            locked_at = rec.locked_at if rec.locked_at.tzinfo else rec.locked_at.replace(tzinfo=UTC)
            if now - locked_at < self.lease:
                raise errors.IdempotencyInProgress()
            # The first request died mid-way: take it over (compare-and-set on locked_at).
            res = await s.execute(
                update(IdempotencyRecord)
                .where(
                    col(IdempotencyRecord.id) == rec.id,
                    col(IdempotencyRecord.locked_at) == rec.locked_at,
                    col(IdempotencyRecord.status) == "IN_PROGRESS",
                )
                .values(locked_at=now)
            )
            await s.commit()
            if res.rowcount != 1:  # type: ignore[attr-defined]
                raise errors.IdempotencyInProgress()
            return Claim(int(rec.id or 0), rec.lock_token, taken_over=True)

    async def complete(self, record_id: int, code: int, body: dict[str, Any]) -> None:
        await self.db.write_one(COMPLETE_CLAIM, complete_claim_params(record_id, code, body))

    async def abandon(self, record_id: int) -> None:
        """A server-side failure (5xx) is not stored: the client may retry with the same key."""
        await self.db.write_one(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == record_id))
