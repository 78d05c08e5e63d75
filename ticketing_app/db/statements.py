"""Prebuilt Core statements for the hot write paths (a hold becoming an order, a payment).

Built once at import: executing them skips the ORM's bulk-persistence step and the per-call
statement construction, and the engine's compiled cache always hits. Rows are plain dicts of
column values (`row_of`); bound parameters are named `b_<name>` (SQLAlchemy reserves a
column's own name in an UPDATE's SET clause)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic_core import PydanticUndefined
from sqlalchemy import (
    ARRAY,
    BindParameter,
    Insert,
    Integer,
    Select,
    String,
    Table,
    Update,
    bindparam,
    exists,
    false,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ticketing_app.db.models import (
    IdempotencyRecord,
    Order,
    OrderItem,
    OutboxEvent,
    Payment,
    Seat,
    Ticket,
)
from ticketing_app.domain.orders import OrderStatus, PaymentStatus


def table(model: type) -> Table:
    t: Table = model.__table__  # type: ignore[attr-defined]
    return t


def row_of(model: Any) -> dict[str, Any]:
    """A table model's column values for an insert (the database assigns the id)."""
    return dict(model.model_dump(exclude={"id"}))


@cache
def _fields(model: type) -> tuple[tuple[str, Any, Callable[[], Any] | None], ...]:
    return tuple((name, f.default, f.default_factory)  # type: ignore[misc]
                 for name, f in model.model_fields.items() if name != "id")  # type: ignore[attr-defined]


def new_row(model: type, **values: Any) -> dict[str, Any]:
    """`row_of(model(**values))` without building the model: its defaults filled in, a
    required column missing or an unknown one refused. A table model's construction costs
    tens of microseconds (SQLAlchemy's instrumentation), which the hot writes skip."""
    fields = _fields(model)
    unknown = set(values) - {name for name, _, _ in fields}
    if unknown:
        raise TypeError(f"{model.__name__} has no column {sorted(unknown)}")
    row: dict[str, Any] = {}
    for name, default, factory in fields:
        if name in values:
            row[name] = values[name]
        elif factory is not None:
            row[name] = factory()
        elif default is PydanticUndefined:
            raise TypeError(f"{model.__name__}.{name} is required")
        else:
            row[name] = default
    return row


def _insert_returning_id(model: type) -> Insert:
    t = table(model)
    return insert(t).returning(t.c.id)


INSERT_CLAIM = _insert_returning_id(IdempotencyRecord)
INSERT_ORDER = _insert_returning_id(Order)
INSERT_PAYMENT = _insert_returning_id(Payment)
INSERT_ORDER_ITEMS = insert(table(OrderItem))
INSERT_OUTBOX = insert(table(OutboxEvent))
INSERT_TICKETS = insert(table(Ticket))

_claims = table(IdempotencyRecord)
COMPLETE_CLAIM: Update = (
    update(_claims).where(_claims.c.id == bindparam("b_record_id"))
    .values(status="COMPLETED", response_code=bindparam("b_code"),
            response_body=bindparam("b_body", type_=_claims.c.response_body.type)))


def complete_claim_params(record_id: int, code: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"b_record_id": record_id, "b_code": code, "b_body": body}


_orders, _payments, _seats = table(Order), table(Payment), table(Seat)
# A payment's success (the worker): order CONFIRMED, payment AUTHORIZED, seats SOLD.
CONFIRM_ORDER: Update = (
    update(_orders).where(_orders.c.id == bindparam("b_order_id"))
    .values(status=OrderStatus.CONFIRMED.value, confirmed_at=bindparam("b_now"),
            updated_at=bindparam("b_now"), close_reason="", cancel_kind=""))
AUTHORIZE_PAYMENT: Update = (
    update(_payments).where(_payments.c.id == bindparam("b_payment_id"))
    .values(status=PaymentStatus.AUTHORIZED.value, updated_at=bindparam("b_now")))
SELL_SEATS: Update = (
    update(_seats).where(_seats.c.id.in_(bindparam("b_seat_ids", expanding=True)),
                         _seats.c.event_id == bindparam("b_event_id"))
    .values(status="SOLD", order_id=bindparam("b_order_id"), version=_seats.c.version + 1))
CONFIRM_SALE_STEPS = (CONFIRM_ORDER, AUTHORIZE_PAYMENT, SELL_SEATS)  # SQLite: one by one
# (PostgreSQL: CONFIRM_SALE below, with the tickets and the outbox rows.)


# ---- an order in two round trips (PostgreSQL) ---------------------------------------------
# The order's id and its seats' prices in one read (the id from the orders' sequence, so every
# row of the order can be built before anything is written), then the order, its items, its
# ORDER_CREATED outbox row and its idempotency record's answer in ONE statement (data-modifying
# CTEs, sent in autocommit: it commits alone). Inside a transaction the same work is BEGIN,
# five statements and COMMIT: seven round trips.
def _binds(t: Table, prefix: str, skip: tuple[str, ...] = ()) -> dict[str, BindParameter[Any]]:
    return {c.name: bindparam(prefix + c.name, type_=c.type) for c in t.c if c.name not in skip}


_items, _outbox = table(OrderItem), table(OutboxEvent)
ORDER_ID_AND_PRICES: Select[Any] = (
    select(func.nextval(func.pg_get_serial_sequence("orders", "id")),
           func.array_agg(_seats.c.id), func.array_agg(_seats.c.price))
    .where(_seats.c.id.in_(bindparam("b_seat_ids", expanding=True)),
           _seats.c.event_id == bindparam("b_event_id")))
_order_binds = _binds(_orders, "o_")
_new_order = insert(_orders).values(_order_binds).returning(_orders.c.id).cte("new_order")
_new_items = insert(_items).from_select(
    ["order_id", "seat_id", "price", "currency", "tier_name", "seat_label", "refunded"],
    select(_order_binds["id"],
           func.unnest(bindparam("i_seat_id", type_=ARRAY(Integer))),
           func.unnest(bindparam("i_price", type_=ARRAY(Integer))),
           _order_binds["currency"],
           func.unnest(bindparam("i_tier_name", type_=ARRAY(String))),
           func.unnest(bindparam("i_seat_label", type_=ARRAY(String))),
           false())).cte("new_items")
_new_event = insert(_outbox).values(_binds(_outbox, "x_", skip=("id",))).cte("new_event")
_claim_done = COMPLETE_CLAIM.cte("claim_done")
WRITE_ORDER: Select[Any] = select(_new_order.c.id).add_cte(_new_items, _new_event, _claim_done)


def write_order_params(order: dict[str, Any], items: list[dict[str, Any]],
                       event: dict[str, Any], claim: dict[str, Any]) -> dict[str, Any]:
    """WRITE_ORDER's parameters: the order's row (its id included), its items' rows (all in
    the order's currency), the outbox row and COMPLETE_CLAIM's parameters."""
    return {**{f"o_{k}": v for k, v in order.items()},
            **{f"i_{k}": [i[k] for i in items]
               for k in ("seat_id", "price", "tier_name", "seat_label")},
            **{f"x_{k}": v for k, v in event.items()}, **claim}


# ---- a payment's start in one round trip (PostgreSQL) -------------------------------------
# The order locked, its latest attempt, and a new PENDING payment when the order is open, the
# buyer its own and no attempt but a failed one exists; the unique index of one PENDING
# payment per order (migration 0013) stops a concurrent twin whose snapshot predates the
# first's commit. Returns the order's status, buyer, total and currency, and the new
# payment's id (NULL when none was made: no row at all when there is no such order).
_locked_order = (select(_orders.c.id, _orders.c.status, _orders.c.buyer_id, _orders.c.total,
                        _orders.c.currency)
                 .where(_orders.c.id == bindparam("b_order_id")).with_for_update()
                 .cte("locked_order"))
_latest_payment = (select(_payments.c.status)
                   .where(_payments.c.order_id == bindparam("b_order_id"))
                   .order_by(_payments.c.id.desc()).limit(1).cte("latest_payment"))
_new_payment = (
    pg_insert(_payments).from_select(
        ["order_id", "status", "amount", "currency", "provider_ref", "failure_reason",
         "trace_id", "traceparent", "created_at", "updated_at"],
        select(_locked_order.c.id, literal(PaymentStatus.PENDING.value),
               _locked_order.c.total, _locked_order.c.currency, literal(""), literal(""),
               bindparam("b_trace_id", type_=_payments.c.trace_id.type),
               bindparam("b_traceparent", type_=_payments.c.traceparent.type),
               bindparam("b_now", type_=_payments.c.created_at.type),
               bindparam("b_now", type_=_payments.c.created_at.type))
        .where(_locked_order.c.status == OrderStatus.CREATED.value,
               _locked_order.c.buyer_id == func.coalesce(
                   bindparam("b_buyer", type_=String), _locked_order.c.buyer_id),
               ~exists(select(literal(1)).select_from(_latest_payment).where(
                   _latest_payment.c.status != PaymentStatus.FAILED.value))))
    .on_conflict_do_nothing(index_elements=["order_id"],  # the predicate as the index's
                            index_where=text(f"status = '{PaymentStatus.PENDING.value}'"))
    .returning(_payments.c.id).cte("new_payment"))
START_PAYMENT: Select[Any] = select(
    _locked_order.c.status, _locked_order.c.buyer_id, _locked_order.c.total,
    _locked_order.c.currency, select(_new_payment.c.id).scalar_subquery())


# ---- a payment's success in one statement (PostgreSQL) ------------------------------------
# Order CONFIRMED, payment AUTHORIZED, seats SOLD, the tickets and the outbox rows, as
# data-modifying CTEs inside the success transaction: one round trip instead of five (three
# UPDATEs, the tickets' and the events' inserts). Returns how many seats it sold.
_tickets = table(Ticket)
_confirm_order = CONFIRM_ORDER.returning(_orders.c.id).cte("confirm_order")
_authorize_payment = AUTHORIZE_PAYMENT.returning(_payments.c.id).cte("authorize_payment")
_sell_seats = SELL_SEATS.returning(_seats.c.id).cte("sell_seats")
_new_tickets = insert(_tickets).from_select(
    ["order_id", "order_item_id", "event_id", "seat_id", "code", "status", "checked_in_by",
     "checked_in_gate", "created_at"],
    select(bindparam("b_order_id", type_=Integer),
           func.unnest(bindparam("t_order_item_id", type_=ARRAY(Integer))),
           bindparam("b_event_id", type_=Integer),
           func.unnest(bindparam("t_seat_id", type_=ARRAY(Integer))),
           func.unnest(bindparam("t_code", type_=ARRAY(String))),
           literal("VALID"), literal(""), literal(""),
           bindparam("b_now", type_=_tickets.c.created_at.type))).cte("new_tickets")
_OUTBOX_ARRAYS = ("event_uuid", "event_type", "aggregate_id", "partition_key", "payload",
                  "trace_id", "traceparent", "created_at")
# In the order they were emitted (unnest keeps the arrays' order; the relay publishes by id).
_new_events = insert(_outbox).from_select(
    [*_OUTBOX_ARRAYS, "status", "attempts", "last_error"],
    select(*(func.unnest(bindparam(f"e_{c}", type_=ARRAY(_outbox.c[c].type)))
             for c in _OUTBOX_ARRAYS),
           literal("PENDING"), literal(0), literal(""))).cte("new_events")
CONFIRM_SALE: Select[Any] = (
    select(func.count()).select_from(_sell_seats)
    .add_cte(_confirm_order, _authorize_payment, _new_tickets, _new_events))


def confirm_sale_params(sale: dict[str, Any], tickets: list[Ticket],
                        events: list[dict[str, Any]]) -> dict[str, Any]:
    """CONFIRM_SALE's parameters: the sale's (`b_order_id`, `b_payment_id`, `b_now`,
    `b_seat_ids`, `b_event_id`), the tickets' and the outbox rows'."""
    return {**sale,
            "t_order_item_id": [t.order_item_id for t in tickets],
            "t_seat_id": [t.seat_id for t in tickets], "t_code": [t.code for t in tickets],
            **{f"e_{c}": [e[c] for e in events] for c in _OUTBOX_ARRAYS}}
