"""Buyers without their browser (issue 17): name and e-mail on orders, the signed link in the
confirmation mail (expiry, tampering), "find my order" (never revealing an address, rate
limited), personal data export and erasure (audited), the retention job; and the web app's
hold times beside the API's clamp. Against the real API, worker, consumers and SMTP sink."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import Env
from tests.integration.helpers import assert_error, eventually
from ticketing_app.db.models import AuditLog, Order
from ticketing_app.domain.buyers import issue_order_link
from ticketing_app.services.order_access import OrderAccessService

pytestmark = pytest.mark.integration
LINK = re.compile(r"/order/(o1-[A-Za-z0-9_-]+)")


def unique_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}@example.com"


async def buy_as(env: Env, buyer: str, event_id: int, seats: list[int], name: str,
                 email: str, **extra: Any) -> int:
    """Hold, order with a name and address, pay (the provider approves): the order id."""
    async with env.client(buyer) as c:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatIds": seats})
        assert r.status_code == 201, r.text
        r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": seats,
                                              "buyerName": name, "buyerEmail": email, **extra},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 201, r.text
        order_id = int(r.json()["orderId"])
        r = await c.post("/api/payments/authorize", json={"orderId": order_id})
        assert r.status_code in (200, 202), r.text

        async def confirmed() -> bool:
            return (await c.get(f"/api/orders/{order_id}")).json()["status"] == "CONFIRMED"

        await eventually(confirmed, timeout=30)
    return order_id


async def mail_link(sink: Any, address: str, order_id: int) -> str:
    async def arrived() -> list[Any]:
        return [m for m in sink.to(address) if f"#{order_id}" in str(m["Subject"])]

    [mail, *_] = await eventually(arrived, timeout=60)
    m = LINK.search(mail.get_content())
    assert m, mail.get_content()
    return m.group(1)


async def test_orders_keep_working_without_a_name_and_refuse_a_bad_address(env: Env) -> None:
    event_id = await env.new_event(rows=1, cols=4)
    seats = await env.seat_ids(event_id)
    async with env.client("plain-buyer") as c:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatIds": seats[:2]})
        assert r.status_code == 201
        # The original's body still works (name and e-mail are optional on the API) ...
        r = await c.post("/api/orders", json={"eventId": event_id, "seatIds": seats[:1]},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 201, r.text
        # ... and a given address must be one, with a name.
        body = assert_error(await c.post(
            "/api/orders", json={"eventId": event_id, "seatIds": seats[1:2],
                                 "buyerName": "", "buyerEmail": "not-an-address"},
            headers={"Idempotency-Key": uuid.uuid4().hex}), 422, "VALIDATION_FAILED")
        assert {d["field"] for d in body["details"]} == {"buyerName", "buyerEmail"}


async def test_the_mailed_link_opens_the_tickets_without_a_cookie_and_resists_tampering(
        provider: Env, smtp_sink: Any) -> None:
    env = provider
    await env.set_provider_mode("success")
    address = unique_email("link")
    event_id = await env.new_event(rows=1, cols=4)
    seats = await env.seat_ids(event_id)
    order_id = await buy_as(env, "link-buyer", event_id, seats[:2], "Kim Minji", address,
                            language="ko")
    token = await mail_link(smtp_sink, address, order_id)
    async with httpx.AsyncClient(base_url=env.api_url, timeout=30) as anon:  # no identity
        r = await anon.get(f"/api/order-links/{token}")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["orderId"] == order_id and body["buyerName"] == "Kim Minji"
        assert len(body["tickets"]) == 2 and all(t["status"] == "VALID" for t in body["tickets"])
        pdf = await anon.get(f"/api/order-links/{token}/pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        # Tampered: another order id, a later expiry, a changed signature -> 401.
        _, oid, exp, sig = token.split("-", 3)
        for bad in (f"o1-{int(oid) + 1}-{exp}-{sig}", f"o1-{oid}-{int(exp) + 86400}-{sig}",
                    f"o1-{oid}-{exp}-{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}",
                    "o1-1-1-" + "x" * 43):
            assert_error(await anon.get(f"/api/order-links/{bad}"), 401, "UNAUTHENTICATED")
            assert_error(await anon.get(f"/api/order-links/{bad}/personal-data"), 401,
                         "UNAUTHENTICATED")
        # Expired (genuinely signed, expiry in the past) -> 410.
        old = issue_order_link(env.rt.settings.secret_key, order_id, int(time.time()) - 1)
        assert_error(await anon.get(f"/api/order-links/{old}"), 410, "LINK_EXPIRED")
        assert_error(await anon.delete(f"/api/order-links/{old}/personal-data"), 410,
                     "LINK_EXPIRED")


async def test_find_my_order_answers_the_same_whether_or_not_the_address_is_known(
        provider: Env, smtp_sink: Any) -> None:
    env = provider
    await env.set_provider_mode("success")
    address = unique_email("find")
    event_id = await env.new_event(rows=1, cols=4)
    seats = await env.seat_ids(event_id)
    order_id = await buy_as(env, "find-buyer", event_id, seats[:1], "Lee Jun", address)
    await mail_link(smtp_sink, address, order_id)  # the confirmation
    stranger = unique_email("stranger")
    answers = []
    async with httpx.AsyncClient(base_url=env.api_url, timeout=30,
                                 headers={"X-Forwarded-For": "10.77.0.1"}) as c:
        for email, ref in ((address.upper(), f"Order #{order_id}"),  # known (any case)
                           (stranger, f"#{order_id}"),  # unknown address
                           (address, str(order_id + 100000))):  # wrong reference
            r = await c.post("/api/orders/lookup", json={"email": email, "reference": ref})
            answers.append((r.status_code, r.json(), sorted(
                k for k in r.headers if k.lower() not in ("date", "trace-id"))))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 202

    async def link_mails() -> list[Any]:
        mails = [m for m in smtp_sink.to(address) if f"#{order_id}" in str(m["Subject"])]
        return mails if len(mails) == 2 else []  # the confirmation, then the link

    [_confirmation, mail] = await eventually(link_mails, timeout=60)
    token = LINK.search(mail.get_content())
    assert token and f"-{order_id}-" in token.group(1)
    assert smtp_sink.to(stranger) == []  # nothing to the unknown address
    async with env.rt.db.read_sessions() as s:
        order = await s.get(Order, order_id)
    assert order is not None and order.buyer_email == address


async def test_find_my_order_is_rate_limited_per_client_and_per_address(env: Env) -> None:
    limit = env.rt.settings.order_lookup_per_hour
    assert limit > 0
    ip = f"10.78.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    async with httpx.AsyncClient(base_url=env.api_url, timeout=30,
                                 headers={"X-Forwarded-For": ip}) as c:
        codes = [(await c.post("/api/orders/lookup", json={
            "email": unique_email("rl"), "reference": "#1"})).status_code
            for _ in range(limit)]
        assert codes == [202] * limit
        over = await c.post("/api/orders/lookup", json={"email": unique_email("rl"),
                                                         "reference": "#1"})
        assert_error(over, 429, "RATE_LIMITED")
        assert int(over.headers["Retry-After"]) >= 1
    # One address asked about from many clients is limited too (no mail bombing).
    target = unique_email("target")
    codes = []
    for i in range(limit + 1):
        async with httpx.AsyncClient(base_url=env.api_url, timeout=30,
                                     headers={"X-Forwarded-For": f"10.79.{i}.{i + 1}"}) as c:
            codes.append((await c.post("/api/orders/lookup", json={
                "email": target, "reference": "#1"})).status_code)
    assert codes == [202] * limit + [429]


async def test_personal_data_export_and_erasure_by_link_are_audited(
        provider: Env, smtp_sink: Any) -> None:
    env = provider
    await env.set_provider_mode("success")
    address = unique_email("gdpr")
    event_id = await env.new_event(rows=1, cols=6)
    seats = await env.seat_ids(event_id)
    first = await buy_as(env, "gdpr-1", event_id, seats[:1], "Park Seo", address)
    second = await buy_as(env, "gdpr-2", event_id, seats[1:2], "Park Seo", address)
    other = await buy_as(env, "gdpr-3", event_id, seats[2:3], "Choi Other",
                         unique_email("other"))
    token = await mail_link(smtp_sink, address, first)
    async with httpx.AsyncClient(base_url=env.api_url, timeout=30) as anon:
        r = await anon.get(f"/api/order-links/{token}/personal-data")
        assert r.status_code == 200, r.text
        assert "attachment" in r.headers["Content-Disposition"]
        data = r.json()
        assert data["email"] == address
        assert sorted(o["orderId"] for o in data["orders"]) == [first, second]
        assert {o["name"] for o in data["orders"]} == {"Park Seo"}
        r = await anon.delete(f"/api/order-links/{token}/personal-data")
        assert r.status_code == 200 and r.json() == {"erasedOrders": 2}
        after = (await anon.get(f"/api/order-links/{token}/personal-data")).json()
        assert address not in str(after) and "Park Seo" not in str(after)
        # The tickets stay valid after the erasure.
        tickets = (await anon.get(f"/api/order-links/{token}")).json()["tickets"]
        assert [t["status"] for t in tickets] == ["VALID"]
    async with env.rt.db.read_sessions() as s:
        orders = {o.id: o for o in (await s.execute(select(Order).where(
            Order.id.in_([first, second, other])))).scalars()}  # type: ignore[union-attr]
        audit = list((await s.execute(select(AuditLog).where(
            AuditLog.target == f"order:{first}"))).scalars())
    assert orders[first].buyer_email is None and orders[second].buyer_name is None
    assert orders[other].buyer_name == "Choi Other"  # someone else's data is untouched
    actions = [a.action for a in audit]
    assert actions.count("personal_data.export") == 2 and "personal_data.erase" in actions
    assert all(address not in str(a.details) for a in audit)  # the audit keeps a digest


async def test_retention_erases_names_and_addresses_after_the_event(env: Env) -> None:
    days = env.rt.settings.personal_data_retention_days
    assert days > 0
    past = await env.new_event(rows=1, cols=2)
    recent = await env.new_event(rows=1, cols=2)
    from ticketing_app.domain.buyers import BuyerDetails

    made = {}
    for event_id in (past, recent):
        seats = await env.seat_ids(event_id)
        buyer = f"keep-{event_id}"
        await env.rt.reservations.hold(buyer, event_id, seats[:1], None)
        code, body = await env.rt.orders.create(
            buyer, uuid.uuid4().hex, event_id, seats[:1],
            buyer_details=BuyerDetails("Retained Person", unique_email("ret")))
        assert code == 201
        made[event_id] = int(body["orderId"])
    async with env.rt.db.write_sessions() as s:  # the first event was long ago
        from ticketing_app.db.models import Event

        ev = await s.get(Event, past)
        assert ev is not None
        ev.starts_at = datetime.now(UTC) - timedelta(days=days + 1)
        await s.commit()
    service = env.rt.order_access
    assert await service.erase_expired() >= 1
    assert await service.erase_expired() == 0  # idempotent: nothing left to erase
    async with env.rt.db.read_sessions() as s:
        gone = await s.get(Order, made[past])
        kept = await s.get(Order, made[recent])
        runs = list((await s.execute(select(AuditLog).where(
            AuditLog.action == "personal_data.retention"))).scalars())
    assert gone is not None and gone.buyer_name is None and gone.buyer_email is None
    assert kept is not None and kept.buyer_name == "Retained Person"
    assert runs
    off = OrderAccessService(env.rt.db, env.rt.redis, env.rt.catalog, env.rt.buyer_tickets,
                             env.rt.settings.model_copy(
                                 update={"personal_data_retention_days": 0}))
    assert await off.erase_expired() == 0  # 0 days = kept


async def test_web_holds_use_the_events_own_time_and_extend_for_real(env: Env) -> None:
    event_id = await env.new_event(rows=1, cols=4, web_hold_s=600, web_hold_max_total_s=1500)
    seats = await env.seat_ids(event_id)
    # The REST API keeps the original's clamp (at most 120 s by default) ...
    async with env.client("api-holder") as c:
        r = await c.post("/api/reservations", json={"eventId": event_id, "seatId": seats[0],
                                                     "holdSeconds": 3000})
        assert r.status_code == 201 and r.json()["holdSeconds"] == 120
    # ... the web app holds for the event's web hold time.
    res = env.rt.reservations
    start = time.time()
    h = await res.hold("web-holder", event_id, [seats[1]], None, web=True)
    assert h.hold_seconds == 600
    first = h.expires_at.timestamp()
    assert 600 - 5 <= first - start <= 600 + 5
    # Extend adds the web hold time to what is left, up to the web total cap.
    second = (await res.extend("web-holder", event_id, [seats[1]], None, web=True)).timestamp()
    assert abs(second - (first + 600)) <= 2
    third = (await res.extend("web-holder", event_id, [seats[1]], None, web=True)).timestamp()
    assert abs(third - (start + 1500)) <= 5  # capped at the web total
    # An API extend never shortens a web hold.
    assert (await res.extend("web-holder", event_id, [seats[1]], 30)).timestamp() >= third - 1


async def test_event_settings_refuse_web_holds_past_30_minutes(env: Env) -> None:
    from ticketing_app.domain import errors

    with pytest.raises(errors.ValidationFailed) as info:
        await env.new_event(rows=1, cols=2, web_hold_s=600, web_hold_max_total_s=1801)
    assert any(d["field"] == "webHoldSeconds" for d in info.value.details or [])
