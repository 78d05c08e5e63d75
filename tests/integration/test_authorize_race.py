"""The same order paid from several clients at once (a double click, a retry racing the first,
two tabs), through the real API and worker: one payment attempt is made and charged, every
answer names it, and the order is confirmed once. On PostgreSQL the attempt starts in one
statement whose own read of the payments may predate a twin's commit; the unique index of one
PENDING payment per order (migration 0013) is what keeps the twin from adding a second."""

from __future__ import annotations

import asyncio
import os
import uuid

from sqlalchemy import select
from sqlmodel import col

from tests.conftest import Env
from tests.integration.flows import hold_and_order
from tests.integration.helpers import eventually, race_event
from ticketing_app.db.models import Order, Payment
from ticketing_app.services import audit as A

RACE_TRIES = int(os.environ.get("RACE_TRIES", "30"))  # orders raced (raise it to hunt)
CLIENTS = 4  # authorizations of one order sent at once
PARALLEL = 3  # orders raced at once (a 2-core machine shared with others)


async def _race(env: Env, event_id: int, seat: int, n: int) -> tuple[int, set[int]]:
    """(the order, the payment ids its concurrent authorizations answered with)."""
    buyer = f"twin-{n}-{uuid.uuid4().hex[:6]}"
    async with env.client(buyer) as c:
        order_id = await hold_and_order(c, event_id, [seat])
        answers = await asyncio.gather(*(
            c.post("/api/payments/authorize", json={"orderId": order_id})
            for _ in range(CLIENTS)))
    for a in answers:
        assert a.status_code in (200, 202), a.text
        assert a.json()["status"] in ("success", "pending"), a.text
    return order_id, {int(a.json()["paymentId"]) for a in answers}


async def test_concurrent_authorizations_make_one_payment(provider: Env) -> None:
    env = provider
    event_id, seats = await race_event(env, RACE_TRIES)
    gate = asyncio.Semaphore(PARALLEL)

    async def one(n: int) -> tuple[int, set[int]]:
        async with gate:
            return await _race(env, event_id, seats[n], n)

    raced = await asyncio.gather(*(one(n) for n in range(RACE_TRIES)))

    async def settled() -> dict[int, tuple[str, list[tuple[int, str]]]] | None:
        async with env.rt.db.read_sessions() as s:
            orders = {o.id: o.status for o in (await s.execute(select(Order).where(
                col(Order.id).in_([o for o, _ in raced])))).scalars()}
            rows = (await s.execute(select(Payment).where(
                col(Payment.order_id).in_(list(orders))))).scalars()
            payments: dict[int, list[tuple[int, str]]] = {}
            for p in rows:
                payments.setdefault(p.order_id, []).append((int(p.id or 0), p.status))
        if any(st == "PENDING" for ps in payments.values() for _, st in ps):
            return None
        return {int(o or 0): (st, payments.get(int(o or 0), [])) for o, st in orders.items()}

    end = await eventually(settled, timeout=60)
    for order_id, answered in raced:
        status, payments = end[order_id]
        assert len(payments) == 1, (order_id, payments)  # one attempt, however many clicks
        (pid, pstatus), = payments
        assert answered == {pid}, (order_id, answered, pid)  # every answer names it
        assert (status, pstatus) == ("CONFIRMED", "AUTHORIZED"), (order_id, status, pstatus)
    report = await A.audit(env.rt, event_id)
    assert report.ok, report.summary()
