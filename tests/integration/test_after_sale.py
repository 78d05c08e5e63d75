"""After the sale, against real services: tickets with signed codes, check-in that admits once
(also when gates race), refunds (partial, full, blocked seats) on Kafka and in the projection,
and confirmation mail through the outbox-fed consumer to a local SMTP sink."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import Env
from tests.integration.admin_helpers import admin_client, buy, tickets_of
from tests.integration.helpers import assert_error, eventually
from ticketing_app.db.models import (
    Notification,
    Order,
    OutboxEvent,
    SalesProjection,
    Seat,
    Ticket,
)
from ticketing_app.services.tickets import make_ticket_code

pytestmark = pytest.mark.integration


async def _projection(env: Env, event_id: int, **want: int) -> SalesProjection:
    async def check() -> SalesProjection | None:
        async with env.rt.db.read_sessions() as s:
            row = await s.get(SalesProjection, event_id)
        if row is None or any(getattr(row, k) != v for k, v in want.items()):
            return None
        return row

    return await eventually(check, timeout=30)  # type: ignore[no-any-return]


async def test_double_scan_from_concurrent_gates_admits_once(provider: Env) -> None:
    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=2, cols=10)
    seats = await env.seat_ids(event_id)
    await buy(env, "gate-fan", event_id, seats[:3])
    tickets = await tickets_of(env, "gate-fan")
    assert [t["status"] for t in tickets] == ["VALID"] * 3
    async with admin_client(env, "gate-a") as a, admin_client(env, "gate-b") as b:
        for t in tickets:  # each ticket scanned by 8 requests from two gates at once
            code = t["code"]
            results = await asyncio.gather(*(
                (a if i % 2 else b).post("/api/checkins", json={
                    "code": code, "gate": f"G{i % 2}", "eventId": event_id})
                for i in range(8)))
            admitted = [r for r in results if r.status_code == 200]
            assert len(admitted) == 1, [r.text for r in results]
            first = admitted[0].json()
            assert first["result"] == "ADMITTED" and first["seat"].startswith("Row A")
            for r in results:
                if r.status_code != 200:
                    err = assert_error(r, 409, "TICKET_ALREADY_USED")
                    assert err["details"][0]["checkedInBy"] == first["checkedInBy"]
                    assert err["details"][0]["gate"] == first["gate"]
                    assert first["checkedInBy"] in err["message"]
        again = assert_error(await a.post("/api/checkins", json={"code": tickets[0]["code"]}),
                             409, "TICKET_ALREADY_USED")
        assert "Already admitted" in again["message"]
        counts = (await a.get(f"/api/checkins/{event_id}/counts")).json()
        assert counts == {"CHECKED_IN": 3}
    await _projection(env, event_id, checkins=3)
    async with env.rt.db.read_sessions() as s:
        n = (await s.execute(select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.event_type == "TICKET_CHECKED_IN",
            OutboxEvent.partition_key == str(event_id)))).scalar_one()
    assert n == 3
    buyer_view = await tickets_of(env, "gate-fan")
    assert {t["status"] for t in buyer_view} == {"CHECKED_IN"}


async def test_forged_and_altered_codes_are_rejected(provider: Env) -> None:
    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=1, cols=6)
    seats = await env.seat_ids(event_id)
    await buy(env, "forger-victim", event_id, seats[:1])
    real = (await tickets_of(env, "forger-victim"))[0]["code"]
    prefix, body, sig = real.split(".")
    e, _seat, nonce = body.split("-", 2)
    forged_with_other_key = make_ticket_code("not-our-secret", event_id, seats[0])
    altered_seat = f"{prefix}.{e}-{seats[1]}-{nonce}.{sig}"
    altered_sig = f"{prefix}.{body}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}"
    async with admin_client(env) as c:
        for code in (forged_with_other_key, altered_seat, altered_sig, "hello", "TK1..",
                     real + "x"):
            assert_error(await c.post("/api/checkins", json={"code": code}), 422,
                         "TICKET_INVALID")
        # A genuine code for another event is refused when the gate scans for this one.
        other = make_ticket_code(env.rt.settings.secret_key, event_id + 1000, seats[0])
        assert_error(await c.post("/api/checkins", json={"code": other, "eventId": event_id}),
                     409, "TICKET_WRONG_EVENT")
        assert_error(await c.post("/api/checkins", json={"code": other}), 404,
                     "TICKET_NOT_FOUND")
        r = await c.post("/api/checkins", json={"code": f"  {real}  ", "eventId": event_id})
        assert r.status_code == 200, r.text


async def test_refunds_partial_then_full_and_refunded_tickets_are_rejected(
        provider: Env) -> None:
    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=1, cols=8)
    seats = await env.seat_ids(event_id)
    order_id = await buy(env, "refundee", event_id, seats[:3])
    codes = {t["code"]: t for t in await tickets_of(env, "refundee")}
    async with admin_client(env) as c:
        assert_error(await c.post(f"/api/admin/orders/{order_id}/refund",
                                  json={"seatIds": [seats[5]]}), 422, "VALIDATION_FAILED")
        r = await c.post(f"/api/admin/orders/{order_id}/refund",
                         json={"seatIds": [seats[0]], "block": True})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "CONFIRMED"
        assert [i["refunded"] for i in body["items"]] == [True, False, False]
        assert_error(await c.post(f"/api/admin/orders/{order_id}/refund",
                                  json={"seatIds": [seats[0]]}), 422, "VALIDATION_FAILED")
        refunded_code = next(k for k, t in codes.items() if t["seat"].endswith("seat 1"))
        err = assert_error(await c.post("/api/checkins", json={"code": refunded_code}), 409,
                           "TICKET_REFUNDED")
        assert "refunded" in err["message"]
        # Seat 1 stays blocked (the organiser's choice); the rest of the order next.
        snap = await env.rt.holds.snapshot(event_id)
        assert snap is not None and snap.public_code(seats[0]) == "B"
        r = await c.post(f"/api/admin/orders/{order_id}/refund", json={})
        assert r.json()["status"] == "REFUNDED"
        r = await c.post(f"/api/admin/orders/{order_id}/refund", json={})  # repeat: no-op
        assert r.json()["status"] == "REFUNDED"
    snap = await env.rt.holds.snapshot(event_id)
    assert snap is not None
    assert [snap.public_code(s) for s in seats[:3]] == ["B", "A", "A"]
    async with env.rt.db.read_sessions() as s:
        statuses = {x.id: x.status for x in (await s.execute(
            select(Seat).where(Seat.event_id == event_id))).scalars()}
        tickets = {t.status for t in (await s.execute(
            select(Ticket).where(Ticket.order_id == order_id))).scalars()}
        refunds = list((await s.execute(select(OutboxEvent).where(
            OutboxEvent.event_type == "ORDER_REFUNDED",
            OutboxEvent.aggregate_id == str(order_id)).order_by(OutboxEvent.id))).scalars())
    assert statuses[seats[0]] == "BLOCKED" and statuses[seats[1]] == "AVAILABLE"
    assert tickets == {"REFUNDED"}
    assert [e.payload["payload"]["full"] for e in refunds] == [False, True]
    # A returned seat is for sale again, the projection saw both refunds.
    async with env.client("second-chance") as b:
        r = await b.post("/api/reservations", json={"eventId": event_id, "seatId": seats[1]})
        assert r.status_code == 201, r.text
    row = await _projection(env, event_id, orders_refunded=1, seats_refunded=3)
    assert row.revenue == 0 and row.orders_confirmed == 0 and row.refunded_amount == 150000


async def test_concurrent_partial_refunds_of_one_order_end_refunded(provider: Env) -> None:
    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=1, cols=6)
    seats = await env.seat_ids(event_id)
    order_id = await buy(env, "split-refund", event_id, seats[:4])
    async with admin_client(env) as c:
        results = await asyncio.gather(*(
            c.post(f"/api/admin/orders/{order_id}/refund", json={"seatIds": [s]})
            for s in seats[:4]))
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    async with env.rt.db.read_sessions() as s:
        order = await s.get(Order, order_id)
        n_events = (await s.execute(select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.event_type == "ORDER_REFUNDED",
            OutboxEvent.aggregate_id == str(order_id)))).scalar_one()
    assert order is not None and order.status == "REFUNDED"
    assert n_events == 4


async def test_confirmation_mail_with_ticket_codes_reaches_smtp(provider: Env,
                                                                smtp_sink: Any) -> None:
    env = provider
    await env.set_provider_mode("success")
    address = f"buyer-{env.backend}@example.org"
    async with env.client("mailme") as c:
        assert_error(await c.put("/api/tickets/contact", json={"email": "not-an-address"}),
                     422, "VALIDATION_FAILED")
        r = await c.put("/api/tickets/contact", json={"email": address})
        assert r.status_code == 200, r.text
    event_id = await env.new_event(rows=1, cols=4)
    seats = await env.seat_ids(event_id)
    order_id = await buy(env, "mailme", event_id, seats[:2])
    codes = [t["code"] for t in await tickets_of(env, "mailme") if t["orderId"] == order_id]

    async def delivered() -> list[Any]:
        return [m for m in smtp_sink.to(address) if f"#{order_id}" in m["Subject"]]

    [mail] = await eventually(delivered, timeout=60)
    text = mail.get_content()
    assert all(code in text for code in codes) and "/my-tickets" in text
    async with env.rt.db.read_sessions() as s:
        rows = list((await s.execute(select(Notification).where(
            Notification.order_id == order_id))).scalars())
    assert [(n.kind, n.delivered_via, n.recipient) for n in rows] == \
        [("ORDER_CONFIRMED", "smtp", address)]
    # A buyer who left no address gets the message in the log only.
    other = await buy(env, "no-mail", event_id, seats[2:3])

    async def logged() -> list[Notification]:
        async with env.rt.db.read_sessions() as s:
            return list((await s.execute(select(Notification).where(
                Notification.order_id == other))).scalars())

    [n] = await eventually(logged, timeout=30)
    assert n.delivered_via == "log" and n.recipient is None


async def test_pdf_of_tickets(provider: Env) -> None:
    from io import BytesIO

    from pypdf import PdfReader

    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=1, cols=4)
    seats = await env.seat_ids(event_id)
    order_id = await buy(env, "pdf-fan", event_id, seats[:2])
    async with env.client("pdf-fan") as c:
        r = await c.get(f"/api/tickets/pdf?orderId={order_id}")
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    reader = PdfReader(BytesIO(r.content))
    assert len(reader.pages) == 2
    text = " ".join(p.extract_text() for p in reader.pages)
    assert "Row A seat 1" in text and f"Order #{order_id}" in text
    async with env.client("stranger") as c:
        assert_error(await c.get(f"/api/tickets/pdf?orderId={order_id}"), 404, "NOT_FOUND")
