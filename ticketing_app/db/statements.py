"""Prebuilt Core statements for the hot write paths (a hold becoming an order, a payment).

Built once at import: executing them skips the ORM's bulk-persistence step and the per-call
statement construction, and the engine's compiled cache always hits. Rows are plain dicts of
column values (`row_of`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Table, Update, bindparam, insert, update

from ticketing_app.db.models import IdempotencyRecord, Order, OrderItem, OutboxEvent, Payment


def table(model: type) -> Table:
    t: Table = model.__table__  # type: ignore[attr-defined]
    return t


def row_of(model: Any) -> dict[str, Any]:
    """A table model's column values for an insert (the database assigns the id)."""
    return dict(model.model_dump(exclude={"id"}))


def _insert_returning_id(model: type) -> Insert:
    t = table(model)
    return insert(t).returning(t.c.id)


INSERT_CLAIM = _insert_returning_id(IdempotencyRecord)
INSERT_ORDER = _insert_returning_id(Order)
INSERT_PAYMENT = _insert_returning_id(Payment)
INSERT_ORDER_ITEMS = insert(table(OrderItem))
INSERT_OUTBOX = insert(table(OutboxEvent))

_claims = table(IdempotencyRecord)
COMPLETE_CLAIM: Update = (
    update(_claims).where(_claims.c.id == bindparam("record_id"))
    .values(status="COMPLETED", response_code=bindparam("code"),
            response_body=bindparam("body", type_=_claims.c.response_body.type)))


def complete_claim_params(record_id: int, code: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"record_id": record_id, "code": code, "body": body}
