"""The box office's REST side: find orders, read one whole, resend its tickets, preview a
refund; an event's report and its exports, each as CSV (streamed) and as XLSX; admin accounts
and their roles.

Every route sits on `router`, whose router-level dependency is the admin check (a live session
and a role that allows the route: all of these need a manager; tests walk the routes).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import Field

from ticketing_app.api.admin_auth import AdminDep, require_admin
from ticketing_app.api.admin_schemas import Strict
from ticketing_app.api.deps import RuntimeDep
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import MAX_ID, IdPath, OptionalIdQuery
from ticketing_app.api.spreadsheets import XLSX_TYPE, file_chunks, xlsx_file
from ticketing_app.api.spreadsheets import safe_cell as csv_cell
from ticketing_app.db.models import AdminUser
from ticketing_app.domain import errors
from ticketing_app.domain.events import iso
from ticketing_app.domain.roles import ROLES

router = APIRouter(prefix="/api/admin", tags=["box office"],
                   dependencies=[Depends(require_admin)],
                   responses=error_responses(400, 401, 403, 404, 409, 422))
CSV_TYPE = "text/csv; charset=utf-8"


# ---- orders -------------------------------------------------------------------------------
@router.get("/orders")
async def search_orders(rt: RuntimeDep, q: Annotated[str, Query(max_length=200)] = "",
                        eventId: OptionalIdQuery = None) -> list[dict[str, Any]]:
    """Orders by reference (`313`, `#313`), buyer name or e-mail (any part), buyer id or
    ticket code (whole, or a part of 6+ characters); newest first, at most 50."""
    return [h.public() for h in await rt.box_office.search(q, eventId)]


@router.get("/orders/{order_id}")
async def order_detail(order_id: IdPath, rt: RuntimeDep) -> dict[str, Any]:
    """The order with its tickets, payments, refunds and history (outbox events and audit
    rows), and its money: paid, refunded, remaining."""
    return (await rt.box_office.order(order_id)).public()


@router.get("/orders/{order_id}/refund-preview")
async def refund_preview(order_id: IdPath, rt: RuntimeDep,
                         seatIds: Annotated[list[int] | None, Query(max_length=50)] = None
                         ) -> dict[str, Any]:
    """What refunding these seats (none given: every seat not refunded yet) pays back, what
    the order is still worth afterwards, and which tickets were already used at the door."""
    if seatIds and not all(0 < s <= MAX_ID for s in seatIds):
        raise errors.ValidationFailed("Seat ids are positive integers.",
                                      [{"field": "seatIds", "message": "out of range"}])
    p = await rt.admin.refund_preview(order_id, seatIds or None)
    return {"orderId": p.order_id, "amount": p.amount, "remaining": p.remaining,
            "currency": p.currency,
            "seats": [{"seatId": s, "label": label} for s, label in p.seats],
            "checkedIn": [{"seatId": s, "label": label} for s, label in p.checked_in]}


@router.post("/orders/{order_id}/resend")
async def resend_tickets(order_id: IdPath, who: AdminDep, rt: RuntimeDep) -> dict[str, Any]:
    """Mails the tickets again (the confirmation's path: an outbox event the notifications
    consumer turns into the mail); 409 when the order is not paid or has no e-mail."""
    return (await rt.box_office.resend_tickets(who.username, order_id)).public()


# ---- reports and exports ----------------------------------------------------------------
@router.get("/events/{event_id}/report")
async def report(event_id: IdPath, rt: RuntimeDep) -> dict[str, Any]:
    """Sales by tier and by day (in the venue's time zone) and the settlement: gross,
    refunds, net; from the database."""
    return (await rt.reports.report(event_id)).public()


async def csv_stream(rows: AsyncIterator[dict[str, Any]] | Iterable[dict[str, Any]],
                     header: list[str]) -> AsyncIterator[bytes]:
    """UTF-8 with a byte-order mark (so a spreadsheet reads Hangul right), one chunk per
    row."""
    buf = io.StringIO()
    writer = csv.writer(buf)

    def take() -> bytes:
        out = buf.getvalue().encode()
        buf.seek(0)
        buf.truncate()
        return out

    writer.writerow(header)
    yield "\ufeff".encode() + take()
    if isinstance(rows, AsyncIterator):
        async for row in rows:
            writer.writerow([csv_cell(row.get(h, "")) for h in header])
            yield take()
    else:
        for row in rows:
            writer.writerow([csv_cell(row.get(h, "")) for h in header])
            yield take()


def csv_response(body: AsyncIterator[bytes], filename: str) -> StreamingResponse:
    return StreamingResponse(body, media_type=CSV_TYPE, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "CSV, UTF-8 with a byte-order mark"}}
ORDER_COLUMNS = ["order", "status", "created_at", "confirmed_at", "buyer_id", "name", "email",
                 "seats", "currency", "paid", "refunded", "remaining"]
ATTENDEE_COLUMNS = ["ticket", "order", "seat", "tier", "name", "email", "status", "checked_in",
                    "checked_in_at", "checked_in_by", "gate"]
TIER_COLUMNS = ["tier", "capacity", "sold", "refunded", "percentSold", "gross", "refunds", "net"]
DAY_COLUMNS = ["day", "orders", "tickets", "gross", "refunds", "net"]


@router.get("/events/{event_id}/exports/orders.csv", response_class=StreamingResponse,
            responses=CSV_RESPONSE)
async def export_orders(event_id: IdPath, rt: RuntimeDep) -> StreamingResponse:
    rows = rt.reports.order_rows(event_id)
    first = await anext(rows, None)  # an unknown event is a 404 before anything is sent
    return csv_response(csv_stream(_chain(first, rows), ORDER_COLUMNS),
                        f"event-{event_id}-orders.csv")


@router.get("/events/{event_id}/exports/attendees.csv", response_class=StreamingResponse,
            responses=CSV_RESPONSE)
async def export_attendees(event_id: IdPath, rt: RuntimeDep) -> StreamingResponse:
    """The door list: every ticket with its seat, buyer and check-in state."""
    rows = rt.reports.attendee_rows(event_id)
    first = await anext(rows, None)
    return csv_response(csv_stream(_chain(first, rows), ATTENDEE_COLUMNS),
                        f"event-{event_id}-attendees.csv")


@router.get("/events/{event_id}/exports/sales-by-tier.csv", response_class=StreamingResponse,
            responses=CSV_RESPONSE)
async def export_by_tier(event_id: IdPath, rt: RuntimeDep) -> StreamingResponse:
    r = await rt.reports.report(event_id)
    return csv_response(csv_stream([t.public() for t in r.tiers], TIER_COLUMNS),
                        f"event-{event_id}-sales-by-tier.csv")


@router.get("/events/{event_id}/exports/sales-by-day.csv", response_class=StreamingResponse,
            responses=CSV_RESPONSE)
async def export_by_day(event_id: IdPath, rt: RuntimeDep) -> StreamingResponse:
    r = await rt.reports.report(event_id)
    return csv_response(csv_stream([d.public() for d in r.days], DAY_COLUMNS),
                        f"event-{event_id}-sales-by-day.csv")


# ---- the same four as XLSX (same columns, same cells; api/spreadsheets.py) ---------------
XLSX_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {XLSX_TYPE: {}}, "description": "XLSX, one sheet, the CSV's columns"}}


def xlsx_response(file: IO[bytes], filename: str) -> StreamingResponse:
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    return StreamingResponse(file_chunks(file), media_type=XLSX_TYPE, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Content-Length": str(size), "Cache-Control": "no-store"})


@router.get("/events/{event_id}/exports/orders.xlsx", response_class=StreamingResponse,
            responses=XLSX_RESPONSE)
async def export_orders_xlsx(event_id: IdPath, rt: RuntimeDep) -> StreamingResponse:
    file = await xlsx_file(rt.reports.order_rows(event_id), ORDER_COLUMNS, "orders")
    return xlsx_response(file, f"event-{event_id}-orders.xlsx")


@router.get("/events/{event_id}/exports/attendees.xlsx", response_class=StreamingResponse,
            responses=XLSX_RESPONSE)
async def export_attendees_xlsx(event_id: IdPath, rt: RuntimeDep) -> StreamingResponse:
    """The door list: every ticket with its seat, buyer and check-in state."""
    file = await xlsx_file(rt.reports.attendee_rows(event_id), ATTENDEE_COLUMNS, "attendees")
    return xlsx_response(file, f"event-{event_id}-attendees.xlsx")


@router.get("/events/{event_id}/exports/sales-by-tier.xlsx", response_class=StreamingResponse,
            responses=XLSX_RESPONSE)
async def export_by_tier_xlsx(event_id: IdPath, rt: RuntimeDep) -> StreamingResponse:
    r = await rt.reports.report(event_id)
    file = await xlsx_file([t.public() for t in r.tiers], TIER_COLUMNS, "sales-by-tier")
    return xlsx_response(file, f"event-{event_id}-sales-by-tier.xlsx")


@router.get("/events/{event_id}/exports/sales-by-day.xlsx", response_class=StreamingResponse,
            responses=XLSX_RESPONSE)
async def export_by_day_xlsx(event_id: IdPath, rt: RuntimeDep) -> StreamingResponse:
    r = await rt.reports.report(event_id)
    file = await xlsx_file([d.public() for d in r.days], DAY_COLUMNS, "sales-by-day")
    return xlsx_response(file, f"event-{event_id}-sales-by-day.xlsx")


async def _chain(first: dict[str, Any] | None, rest: AsyncIterator[dict[str, Any]]
                 ) -> AsyncIterator[dict[str, Any]]:
    if first is None:
        return
    yield first
    async for row in rest:
        yield row


# ---- accounts -----------------------------------------------------------------------------
class AccountIn(Strict):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)
    role: str = Field(default="manager", max_length=20,
                      json_schema_extra={"enum": list(ROLES)})


def account_out(u: AdminUser) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "role": u.role, "active": u.is_active,
            "createdAt": iso(u.created_at)}


@router.get("/accounts")
async def accounts(rt: RuntimeDep) -> list[dict[str, Any]]:
    return [account_out(u) for u in await rt.admin_auth.list_admins()]


@router.post("/accounts", status_code=201)
async def create_account(body: AccountIn, who: AdminDep, rt: RuntimeDep) -> dict[str, Any]:
    """A new account: `role` manager (everything) or door (check-in only)."""
    return account_out(await rt.admin_auth.create_admin(body.username, body.password,
                                                        actor=who.username, role=body.role))
