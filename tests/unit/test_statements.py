"""The hot writes' rows built without their table models (db/statements.py, `new_row`)."""

from __future__ import annotations

import pytest

from ticketing_app.db.models import IdempotencyRecord, OutboxEvent
from ticketing_app.db.statements import new_row, row_of

OUTBOX = {"event_uuid": "u-1", "event_type": "ORDER_CREATED", "aggregate_id": "7",
          "partition_key": "3", "payload": {"orderId": 7}, "trace_id": "t", "traceparent": ""}


def test_new_row_is_the_models_row() -> None:
    built, modelled = new_row(OutboxEvent, **OUTBOX), row_of(OutboxEvent(**OUTBOX))
    assert set(built) == set(modelled)
    differing = {k for k in built if built[k] != modelled[k]}
    assert differing == {"created_at"}  # the default factory's clock, read twice
    assert (built["status"], built["attempts"], built["sent_at"]) == ("PENDING", 0, None)


def test_new_row_refuses_a_missing_required_column() -> None:
    with pytest.raises(TypeError, match="lock_token is required"):
        new_row(IdempotencyRecord, buyer_id="b", key="k", method="POST", path="/api/orders",
                request_hash="h")


def test_new_row_refuses_an_unknown_column() -> None:
    with pytest.raises(TypeError, match="no column"):
        new_row(OutboxEvent, **OUTBOX, typo=1)
