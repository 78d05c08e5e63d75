"""Issue 18, the box office over the real API, worker, relay and consumers: roles (door staff
refused on every admin route but check-in, walked from the app's routes), the order search,
an order's page with its history, refunds whose remaining totals are right and that ask
before taking back an admitted ticket, resending tickets through the notifications path,
the CSV exports and the report's settlement, the same exports as XLSX, the door's search by
name, and a ticket's QR code read from a camera frame."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from tests.conftest import Env
from tests.integration.admin_helpers import ADMIN_PASSWORD, admin_client, buy, tickets_of
from tests.integration.helpers import assert_error, eventually
from tests.integration.test_admin_auth import admin_api_routes, fill
from ticketing_app.api.spreadsheets import XLSX_TYPE
from ticketing_app.db.models import Notification
from ticketing_app.domain import errors

pytestmark = pytest.mark.integration

# What door staff may use: check-in and what it needs. Everything else is a manager's.
DOOR_ROUTES = {
    ("POST", "/api/checkins"),
    ("POST", "/api/checkins/scan"),
    ("GET", "/api/checkins/events"),
    ("GET", "/api/checkins/{event_id}/counts"),
    ("GET", "/api/checkins/{event_id}/search"),
    ("GET", "/api/admin/me"),
}


@asynccontextmanager
async def door_client(env: Env, username: str) -> AsyncIterator[httpx.AsyncClient]:
    """A signed-in door-staff account's client."""
    with suppress(errors.Conflict):
        await env.rt.admin_auth.create_admin(username, ADMIN_PASSWORD, actor="test",
                                             role="door")
    async with httpx.AsyncClient(base_url=env.api_url, timeout=30) as c:
        r = await c.post("/api/admin/login", json={"username": username,
                                                   "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        yield c


async def set_contact(env: Env, buyer: str, email: str, name: str) -> None:
    async with env.client(buyer) as c:
        r = await c.put("/api/tickets/contact", json={"email": email, "name": name})
        assert r.status_code == 200, r.text


async def test_door_staff_are_refused_everywhere_but_check_in(env: Env) -> None:
    routes = admin_api_routes()
    assert set(routes) >= DOOR_ROUTES, sorted(DOOR_ROUTES - set(routes))
    async with door_client(env, "door-walker") as door:
        me = (await door.get("/api/admin/me")).json()
        assert me["role"] == "door"
        for method, path in routes:
            r = await door.request(method, fill(path), json={})
            if (method, path) in DOOR_ROUTES:
                assert r.status_code != 403, (method, path, r.text)
            else:
                err = assert_error(r, 403, "FORBIDDEN")
                assert "check" in err["message"].lower(), (method, path)
    # A manager is refused nowhere by role (the same walk, one route of each kind).
    async with admin_client(env, "walk-manager") as boss:
        assert (await boss.get("/api/admin/me")).json()["role"] == "manager"
        assert (await boss.get("/api/admin/accounts")).status_code == 200


async def test_managers_create_door_staff_and_roles_are_validated(env: Env) -> None:
    async with admin_client(env) as c:
        name = f"door-{uuid.uuid4().hex[:8]}"
        r = await c.post("/api/admin/accounts", json={"username": name,
                                                      "password": ADMIN_PASSWORD,
                                                      "role": "door"})
        assert r.status_code == 201, r.text
        assert r.json()["role"] == "door"
        assert_error(await c.post("/api/admin/accounts", json={
            "username": f"x-{name}", "password": ADMIN_PASSWORD, "role": "superuser"}),
            422, "VALIDATION_FAILED")
        listed = {a["username"]: a["role"] for a in (await c.get("/api/admin/accounts")).json()}
        assert listed[name] == "door"
    async with door_client(env, name) as door:
        assert_error(await door.post("/api/admin/accounts", json={
            "username": f"y-{name}", "password": ADMIN_PASSWORD}), 403, "FORBIDDEN")


async def test_find_orders_by_reference_name_email_and_ticket_code(provider: Env) -> None:
    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=1, cols=6)
    seats = await env.seat_ids(event_id)
    buyer = f"kim-{uuid.uuid4().hex[:6]}"
    await set_contact(env, buyer, f"{buyer}@example.com", "Kim Ji-woo")
    order_id = await buy(env, buyer, event_id, seats[:2])
    other = await buy(env, f"other-{buyer}", event_id, seats[2:3])
    code = str((await tickets_of(env, buyer))[0]["code"])
    async with admin_client(env) as c:
        async def found(q: str, **params: Any) -> list[int]:
            r = await c.get("/api/admin/orders", params={"q": q, **params})
            assert r.status_code == 200, r.text
            return [h["orderId"] for h in r.json()]

        assert await found(str(order_id), eventId=event_id) == [order_id]
        assert order_id in await found(f"#{order_id}")
        assert await found(f"{buyer}@EXAMPLE.com") == [order_id]  # any case
        assert await found("ji-woo") == [order_id]  # any part of the name
        assert await found(code) == [order_id]
        assert await found(code[-12:]) == [order_id]  # a part of the code
        assert other not in await found("Kim Ji-woo")
        assert await found("%") == []  # wildcards are literal
        hit = (await c.get("/api/admin/orders", params={"q": code})).json()[0]
        assert hit["name"] == "Kim Ji-woo" and hit["email"] == f"{buyer}@example.com"
        assert hit["seats"] == 2 and hit["remaining"] == hit["paid"] > 0


async def test_partial_refund_totals_history_and_checked_in_tickets_ask_first(
        provider: Env) -> None:
    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=1, cols=6)
    seats = await env.seat_ids(event_id)
    buyer = f"pair-{uuid.uuid4().hex[:6]}"
    order_id = await buy(env, buyer, event_id, seats[:2])
    tickets = await tickets_of(env, buyer)
    async with admin_client(env) as c:
        detail = (await c.get(f"/api/admin/orders/{order_id}")).json()
        paid = detail["paid"]
        price_1 = next(i["price"] for i in detail["items"] if i["seatId"] == seats[0])
        # The preview states the amount and what is left.
        p = (await c.get(f"/api/admin/orders/{order_id}/refund-preview",
                         params={"seatIds": [seats[0]]})).json()
        assert p["amount"] == price_1 and p["remaining"] == paid - price_1
        assert p["checkedIn"] == []
        # An empty choice refunds nothing (the whole order needs seatIds left out).
        assert_error(await c.post(f"/api/admin/orders/{order_id}/refund",
                                  json={"seatIds": []}), 422, "VALIDATION_FAILED")
        r = await c.post(f"/api/admin/orders/{order_id}/refund", json={"seatIds": [seats[0]]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "CONFIRMED"
        assert body["refunded"] == price_1 and body["remaining"] == paid - price_1
        # The other ticket is used at the door; refunding it asks first.
        used = next(t for t in tickets if t["status"] == "VALID"
                    and str(t["seat"]).endswith("seat 2"))
        r = await c.post("/api/checkins", json={"code": used["code"], "eventId": event_id})
        assert r.status_code == 200, r.text
        p = (await c.get(f"/api/admin/orders/{order_id}/refund-preview")).json()
        assert [s["seatId"] for s in p["checkedIn"]] == [seats[1]]
        err = assert_error(await c.post(f"/api/admin/orders/{order_id}/refund", json={}),
                           409, "TICKET_CHECKED_IN")
        assert err["details"] == [{"seatId": seats[1], "status": "CHECKED_IN"}]
        assert (await c.get(f"/api/admin/orders/{order_id}")).json()["status"] == "CONFIRMED"
        r = await c.post(f"/api/admin/orders/{order_id}/refund",
                         json={"allowCheckedIn": True})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "REFUNDED" and r.json()["remaining"] == 0

        async def history() -> list[str] | None:
            d = (await c.get(f"/api/admin/orders/{order_id}")).json()
            kinds = [h["kind"] for h in d["history"]]
            want = {"ORDER_CREATED", "ORDER_CONFIRMED", "ORDER_REFUNDED", "TICKET_CHECKED_IN",
                    "order.refund"}
            return kinds if want <= set(kinds) else None

        kinds = await eventually(history, timeout=30)
        assert kinds is not None and kinds.count("ORDER_REFUNDED") == 2
        d = (await c.get(f"/api/admin/orders/{order_id}")).json()
        assert [r["amount"] for r in d["refunds"]] == [price_1, paid - price_1]
        assert d["refunded"] == paid and d["remaining"] == 0
        assert {t["status"] for t in d["tickets"]} == {"REFUNDED"}
        assert d["payments"] and d["payments"][0]["amount"] == paid


async def test_resend_tickets_mails_through_the_notifications_path(provider: Env) -> None:
    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=1, cols=4)
    seats = await env.seat_ids(event_id)
    buyer = f"resend-{uuid.uuid4().hex[:6]}"
    no_mail = await buy(env, f"nomail-{buyer}", event_id, seats[1:2])
    await set_contact(env, buyer, f"{buyer}@example.com", "Lee Resend")
    order_id = await buy(env, buyer, event_id, seats[:1])
    code = str((await tickets_of(env, buyer))[0]["code"])
    async with admin_client(env) as c:
        assert_error(await c.post(f"/api/admin/orders/{no_mail}/resend"), 409, "CONFLICT")
        r = await c.post(f"/api/admin/orders/{order_id}/resend")
        assert r.status_code == 200, r.text

    async def resent() -> Notification | None:
        async with env.rt.db.read_sessions() as s:
            return (await s.execute(select(Notification).where(
                col(Notification.order_id) == order_id,
                col(Notification.kind) == "TICKETS_RESENT"))).scalar_one_or_none()

    note = await eventually(resent, timeout=30)
    assert note is not None and code in note.body
    assert note.recipient == f"{buyer}@example.com"


def parse_csv(r: httpx.Response) -> list[dict[str, str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


async def test_exports_and_the_report_settle_the_event(provider: Env) -> None:
    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=1, cols=6)
    seats = await env.seat_ids(event_id)
    buyer = f"csv-{uuid.uuid4().hex[:6]}"
    await set_contact(env, buyer, f"{buyer}@example.com", "=HYPERLINK(\"x\")")
    first = await buy(env, buyer, event_id, seats[:2])
    second = await buy(env, f"b-{buyer}", event_id, seats[2:3])
    tickets = await tickets_of(env, buyer)
    async with admin_client(env) as c:
        r = await c.post("/api/checkins", json={"code": tickets[0]["code"],
                                                "eventId": event_id})
        assert r.status_code == 200, r.text
        r = await c.post(f"/api/admin/orders/{second}/refund", json={})
        assert r.status_code == 200, r.text
        rows = parse_csv(await c.get(f"/api/admin/events/{event_id}/exports/attendees.csv"))
        assert len(rows) == 3
        by_ticket = {int(row["ticket"]): row for row in rows}
        admitted = by_ticket[int(tickets[0]["ticketId"])]
        assert admitted["checked_in"] == "yes" and admitted["status"] == "CHECKED_IN"
        assert admitted["checked_in_by"] == "ops" and admitted["checked_in_at"]
        assert admitted["name"].startswith("'=")  # never a formula in a spreadsheet
        assert sorted(row["status"] for row in rows) == ["CHECKED_IN", "REFUNDED", "VALID"]
        orders = parse_csv(await c.get(f"/api/admin/events/{event_id}/exports/orders.csv"))
        by_order = {int(o["order"]): o for o in orders}
        assert by_order[first]["status"] == "CONFIRMED" and by_order[first]["seats"] == "2"
        assert by_order[second]["remaining"] == "0"
        report = (await c.get(f"/api/admin/events/{event_id}/report")).json()
        paid_first = int(by_order[first]["paid"])
        paid_second = int(by_order[second]["paid"])
        assert report["settlement"] == {
            "gross": paid_first + paid_second, "refunds": paid_second, "net": paid_first,
            "ticketsSold": 2, "ticketsRefunded": 1, "capacity": 6}
        tier = report["byTier"][0]
        assert tier["sold"] == 2 and tier["capacity"] == 6 and tier["percentSold"] == 33.3
        day = report["byDay"][-1]
        assert day["gross"] == paid_first + paid_second and day["tickets"] == 3
        assert sum(d["refunds"] for d in report["byDay"]) == paid_second
        by_tier = parse_csv(await c.get(
            f"/api/admin/events/{event_id}/exports/sales-by-tier.csv"))
        assert by_tier[0]["sold"] == "2" and by_tier[0]["net"] == str(paid_first)
        by_day = parse_csv(await c.get(f"/api/admin/events/{event_id}/exports/sales-by-day.csv"))
        assert sum(int(d["gross"]) for d in by_day) == paid_first + paid_second
        assert_error(await c.get("/api/admin/events/999999/exports/attendees.csv"), 404,
                     "EVENT_NOT_FOUND")


def parse_xlsx(r: httpx.Response, sheet: str) -> list[dict[str, str]]:
    """The XLSX's rows as the CSV's (every cell as text, empty cells as "")."""
    import openpyxl

    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX_TYPE
    assert "attachment" in r.headers["content-disposition"]
    assert int(r.headers["content-length"]) == len(r.content)
    rows = list(openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)[sheet]
                .iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    return [{h: "" if v is None else str(v) for h, v in zip(header, row, strict=True)}
            for row in rows[1:]]


def numbers(rows: list[dict[str, str]]) -> list[dict[str, str | float]]:
    def value(v: str) -> str | float:
        try:
            return float(v)
        except ValueError:
            return v

    return [{k: value(v) for k, v in row.items()} for row in rows]


async def test_the_xlsx_exports_hold_the_csvs_rows(provider: Env) -> None:
    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=1, cols=4)
    seats = await env.seat_ids(event_id)
    buyer = f"xlsx-{uuid.uuid4().hex[:6]}"
    await set_contact(env, buyer, f"{buyer}@example.com", "=cmd|' /C calc'!A0")
    await buy(env, buyer, event_id, seats[:2])
    await buy(env, f"b-{buyer}", event_id, seats[2:3])
    tickets = await tickets_of(env, buyer)
    base = f"/api/admin/events/{event_id}/exports"
    async with admin_client(env) as c:
        r = await c.post("/api/checkins", json={"code": tickets[0]["code"], "gate": "East",
                                                "eventId": event_id})
        assert r.status_code == 200, r.text
        attendees = parse_xlsx(await c.get(f"{base}/attendees.xlsx"), "attendees")
        assert len(attendees) == 3
        assert attendees == parse_csv(await c.get(f"{base}/attendees.csv"))
        admitted = next(a for a in attendees if a["ticket"] == str(tickets[0]["ticketId"]))
        assert (admitted["checked_in"], admitted["gate"]) == ("yes", "East")
        assert admitted["name"] == "'=cmd|' /C calc'!A0"  # text, never a formula
        for name in ("orders", "sales-by-tier", "sales-by-day"):
            # Numbers as numbers: the CSV's "75.0" is the spreadsheet's 75.
            assert numbers(parse_xlsx(await c.get(f"{base}/{name}.xlsx"), name)) == \
                numbers(parse_csv(await c.get(f"{base}/{name}.csv"))), name
        assert_error(await c.get("/api/admin/events/999999/exports/orders.xlsx"), 404,
                     "EVENT_NOT_FOUND")
    async with door_client(env, "door-xlsx") as door:
        assert_error(await door.get(f"{base}/attendees.xlsx"), 403, "FORBIDDEN")


async def test_the_door_reads_a_tickets_qr_code_from_a_camera_frame(provider: Env) -> None:
    from PIL import Image

    from ticketing_app.services.ticket_docs import qr_png

    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=1, cols=4)
    seats = await env.seat_ids(event_id)
    buyer = f"cam-{uuid.uuid4().hex[:6]}"
    await buy(env, buyer, event_id, seats[:1])
    code = str((await tickets_of(env, buyer))[0]["code"])
    frame = Image.new("L", (640, 480), 190)
    frame.paste(Image.open(io.BytesIO(qr_png(code))).convert("L").resize((200, 200)),
                (220, 140))
    jpeg = io.BytesIO()
    frame.save(jpeg, "JPEG", quality=70)
    blank = io.BytesIO()
    Image.new("L", (640, 480), 190).save(blank, "JPEG")
    jpeg_type = {"content-type": "image/jpeg"}
    async with door_client(env, "door-camera") as door:
        r = await door.post("/api/checkins/scan", content=jpeg.getvalue(), headers=jpeg_type)
        assert r.status_code == 200, r.text
        assert r.json() == {"code": code, "codes": [code]}
        r = await door.post("/api/checkins/scan", content=blank.getvalue(), headers=jpeg_type)
        assert r.json() == {"code": None, "codes": []}
        # The code read is checked in like a typed one: once.
        r = await door.post("/api/checkins", json={"code": code, "eventId": event_id})
        assert r.status_code == 200, r.text
        assert_error(await door.post("/api/checkins", json={"code": code,
                                                            "eventId": event_id}),
                     409, "TICKET_ALREADY_USED")
        for junk in (b"", b"not an image", b"GIF89a" + b"\0" * 40):
            assert_error(await door.post("/api/checkins/scan", content=junk,
                                         headers=jpeg_type), 422, "VALIDATION_FAILED")
        assert_error(await door.post("/api/checkins/scan", content=b"\xff" * 70_000,
                                     headers=jpeg_type), 413, "PAYLOAD_TOO_LARGE")
    async with httpx.AsyncClient(base_url=env.api_url, timeout=30) as anon:
        assert_error(await anon.post("/api/checkins/scan", content=jpeg.getvalue(),
                                     headers=jpeg_type), 401, "UNAUTHENTICATED")


async def test_the_door_finds_a_ticket_by_name_and_admits_it_once(provider: Env) -> None:
    env = provider
    await env.set_provider_mode("success")
    event_id = await env.new_event(rows=1, cols=4)
    seats = await env.seat_ids(event_id)
    buyer = f"door-{uuid.uuid4().hex[:6]}"
    await set_contact(env, buyer, f"{buyer}@example.com", "Park Min-seo")
    order_id = await buy(env, buyer, event_id, seats[:1])
    async with door_client(env, "door-searcher") as door:
        events = (await door.get("/api/checkins/events")).json()
        assert event_id in [e["id"] for e in events]
        hits = (await door.get(f"/api/checkins/{event_id}/search",
                               params={"q": "min-SEO"})).json()
        assert [(h["orderId"], h["name"], h["status"]) for h in hits] == [
            (order_id, "Park Min-seo", "VALID")]
        ticket_id = hits[0]["ticketId"]
        assert "code" not in hits[0]  # the door sees no ticket secrets
        r = await door.post("/api/checkins", json={"ticketId": ticket_id, "eventId": event_id,
                                                   "gate": "North"})
        assert r.status_code == 200, r.text
        assert_error(await door.post("/api/checkins", json={
            "ticketId": ticket_id, "eventId": event_id}), 409, "TICKET_ALREADY_USED")
        assert_error(await door.post("/api/checkins", json={"ticketId": ticket_id}), 422,
                     "VALIDATION_FAILED")
        assert_error(await door.post("/api/checkins", json={}), 422, "VALIDATION_FAILED")
        hits = (await door.get(f"/api/checkins/{event_id}/search",
                               params={"q": "park"})).json()
        assert hits[0]["status"] == "CHECKED_IN"
