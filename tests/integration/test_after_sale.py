"""After the sale, against real services: tickets with signed codes, check-in that admits once
(also when gates race), refunds (partial, full, blocked seats) on Kafka and in the projection,
and confirmation mail through the outbox-fed consumer to a local SMTP sink."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import Env
from tests.integration.admin_helpers import admin_client, buy, buy_many, tickets_of
from tests.integration.helpers import assert_error, eventually
from ticketing_app.api import deps
from ticketing_app.api.app import create_api
from ticketing_app.bootstrap import Runtime, create_runtime
from ticketing_app.db.models import (
    Notification,
    Order,
    OutboxEvent,
    SalesProjection,
    Seat,
    Ticket,
)
from ticketing_app.domain.tickets import make_ticket_code
from ticketing_app.services.ticket_docs import qr_svg_data_uri, tickets_pdf

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

    async def recorded() -> list[tuple[str, str | None, str | None]]:
        """The mailer marks the row once the server took the mail: a moment after the sink
        has it."""
        async with env.rt.db.read_sessions() as s:
            rows = list((await s.execute(select(Notification).where(
                Notification.order_id == order_id))).scalars())
        seen = [(n.kind, n.delivered_via, n.recipient) for n in rows]
        return seen if all(v != "sending" for _, v, _ in seen) else []

    assert await eventually(recorded, timeout=10) == [("ORDER_CONFIRMED", "smtp", address)]
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
        r = await c.get(f"/api/tickets/pdf?orderId={order_id}",
                        headers={"Accept-Language": "en-US,en;q=0.8"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        korean = await c.get(f"/api/tickets/pdf?orderId={order_id}",
                             headers={"Accept-Language": "ko-KR"})
    assert f"주문 #{order_id}" in PdfReader(BytesIO(korean.content)).pages[0].extract_text()
    reader = PdfReader(BytesIO(r.content))
    assert len(reader.pages) == 2
    text = " ".join(p.extract_text() for p in reader.pages)
    assert "Row A seat 1" in text and f"Order #{order_id}" in text
    async with env.client("stranger") as c:
        assert_error(await c.get(f"/api/tickets/pdf?orderId={order_id}"), 404, "NOT_FOUND")


RENDER_CLIENTS = int(os.environ.get("TICKET_RENDER_CLIENTS", "4"))  # each loops on its PDF
RENDER_LOOPS = int(os.environ.get("TICKET_RENDER_LOOPS", "3"))
RENDER_THREADS = 2


class RenderWatch:
    """Watches the rendering functions through the interpreter's profiling hook (the code
    under test is not changed): in which threads they run, how many run at once, and whether
    one ever ran on the event loop's thread."""

    def __init__(self, *functions: Callable[..., Any]):
        self.codes = {f.__code__ for f in functions}
        self.loop_thread = threading.get_ident()
        self.lock = threading.Lock()
        self.in_flight = self.peak = self.renders = self.on_loop = 0
        self.threads: set[str] = set()

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if frame.f_code not in self.codes or event not in ("call", "return"):
            return
        with self.lock:
            if event == "return":
                self.in_flight -= 1
                return
            self.renders += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.threads.add(threading.current_thread().name)
            if threading.get_ident() == self.loop_thread:
                self.on_loop += 1

    @contextmanager
    def watching(self) -> Iterator[RenderWatch]:
        """This thread (the loop's) and every thread started meanwhile (the render pool's)."""
        sys.setprofile(self)
        threading.setprofile(self)
        try:
            yield self
        finally:
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]


@contextmanager
def api_on(rt: Runtime) -> Iterator[Callable[[str], httpx.AsyncClient]]:
    """The real API app in this process, on its own runtime (a fresh render pool)."""
    app = create_api()
    app.dependency_overrides[deps.runtime] = lambda: rt

    def client(buyer: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test", headers={"X-Caller-Id": buyer},
                                 timeout=120)

    yield client


async def test_ticket_renders_run_off_the_event_loop_bounded(provider: Env) -> None:
    """While clients loop on their tickets' PDFs, every render runs in a worker thread (never
    on the loop), at most TICKET_RENDER_THREADS at once, and other requests are answered while
    renders are in progress (with renders on the loop, none could be)."""
    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=RENDER_CLIENTS, cols=5)
    seats = await env.seat_ids(event_id)
    orders = await buy_many(env, event_id, [seats[i * 5:i * 5 + 5]
                                            for i in range(RENDER_CLIENTS)])
    buyers = [f"fan-{event_id}-{i}" for i in range(RENDER_CLIENTS)]
    settings = env.rt.settings.model_copy(update={
        "ticket_render_threads": RENDER_THREADS, "ticket_render_cache": 0})
    rt = await create_runtime(settings)
    watch = RenderWatch(tickets_pdf, qr_svg_data_uri)
    answered_during_renders = 0
    try:
        with api_on(rt) as client, watch.watching():
            async def loop_on_pdf(buyer: str, order_id: int) -> list[httpx.Response]:
                async with client(buyer) as c:
                    return [await c.get(f"/api/tickets/pdf?orderId={order_id}")
                            for _ in range(RENDER_LOOPS)]

            pdfs = asyncio.gather(*(loop_on_pdf(b, o) for b, o in zip(buyers, orders,
                                                                        strict=True)))
            async with client("browsing") as c:
                while not pdfs.done():
                    r = await c.get(f"/api/events/{event_id}")
                    assert r.status_code == 200, r.text
                    answered_during_renders += watch.in_flight > 0
            answers = [r for rs in await pdfs for r in rs]
    finally:
        await rt.close()
    assert watch.on_loop == 0, f"{watch.on_loop} of {watch.renders} renders ran on the loop"
    for r in answers:
        assert r.status_code == 200 and r.content.startswith(b"%PDF"), r.text
    assert watch.renders == RENDER_CLIENTS * RENDER_LOOPS
    assert 1 <= watch.peak <= RENDER_THREADS, watch.peak
    assert watch.threads and all(n.startswith("ticket-render") for n in watch.threads), \
        watch.threads
    assert answered_during_renders >= 1


async def test_ticket_renders_are_cached_per_order_state(provider: Env) -> None:
    """A PDF fetched again is not rendered again, until its tickets change (a check-in takes
    a ticket off it); the QR images of My tickets render in the pool too, once per code."""
    from io import BytesIO

    from pypdf import PdfReader

    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=1, cols=4)
    seats = await env.seat_ids(event_id)
    order_id = await buy(env, "cached-fan", event_id, seats[:2])
    codes = [str(t["code"]) for t in await tickets_of(env, "cached-fan")]
    rt = await create_runtime(env.rt.settings)
    watch = RenderWatch(tickets_pdf, qr_svg_data_uri)
    try:
        with api_on(rt) as client, watch.watching():
            async with client("cached-fan") as c:
                url = f"/api/tickets/pdf?orderId={order_id}"
                first, again = (await c.get(url)).content, (await c.get(url)).content
                assert first == again and watch.renders == 1
                async with admin_client(env) as a:
                    r = await a.post("/api/checkins", json={"code": codes[0],
                                                            "eventId": event_id})
                    assert r.status_code == 200, r.text
                after = (await c.get(url)).content
                assert watch.renders == 2
            qrs = await rt.ticket_docs.qr_svgs(codes)
            assert await rt.ticket_docs.qr_svgs(codes[::-1]) == qrs[::-1]
    finally:
        await rt.close()
    assert len(PdfReader(BytesIO(first)).pages) == 2
    assert len(PdfReader(BytesIO(after)).pages) == 1
    assert all(q.startswith("data:image/svg+xml;base64,") for q in qrs)
    assert watch.renders == 2 + len(codes) and watch.on_loop == 0
    assert all(n.startswith("ticket-render") for n in watch.threads), watch.threads
