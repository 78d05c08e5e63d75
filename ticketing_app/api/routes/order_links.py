"""An order without the buyer's browser: the signed link from the confirmation mail (the order,
its tickets, a PDF, the buyer's personal data to export or erase) and "find my order", which
mails that link again and never says whether an address is known."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from ticketing_app.api.deps import RuntimeDep
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import OrderLookupIn
from ticketing_app.domain import errors
from ticketing_app.domain.events import iso

router = APIRouter(tags=["order links"])
ERRORS = error_responses(401, 404, 410, 422)
Token = Annotated[str, Path(min_length=10, max_length=120, pattern=r"^[A-Za-z0-9_-]+$")]
# The one answer of a look-up, whatever was found.
LOOKUP_ANSWER = {"status": "accepted",
                 "message": "If an order with that reference was placed with that e-mail "
                            "address, a link to it is on its way there."}
PDF: dict[int | str, dict[str, Any]] = {
    200: {"description": "the tickets as a PDF", "content": {"application/pdf": {}}}}


@router.get("/api/order-links/{token}", responses=ERRORS)
async def open_order(token: Token, rt: RuntimeDep) -> dict[str, Any]:
    a = await rt.order_access.open(token)
    return {
        "orderId": a.order_id, "status": a.status, "eventId": a.event_id,
        "eventTitle": a.event_title, "eventStatus": a.event_status, "when": a.when,
        "venue": a.venue, "total": a.total, "buyerName": a.buyer_name or None,
        "linkExpiresAt": iso_seconds(a.expires_at_s),
        "tickets": [t.public() for t in a.tickets],
    }


@router.get("/api/order-links/{token}/pdf", response_class=Response,
            responses={**ERRORS, **PDF})
async def order_pdf(token: Token, rt: RuntimeDep) -> Response:
    a = await rt.order_access.open(token)
    tickets = [t for t in a.tickets if t.usable]
    if not tickets:
        raise errors.NotFound("No valid tickets to print.")
    return Response(await rt.ticket_docs.pdf(tickets), media_type="application/pdf",
                    headers={"Content-Disposition":
                             f'attachment; filename="tickets-order-{a.order_id}.pdf"',
                             "Cache-Control": "no-store"})


@router.get("/api/order-links/{token}/personal-data", responses=ERRORS)
async def export_personal_data(token: Token, rt: RuntimeDep) -> JSONResponse:
    """Everything kept about the buyer the link was mailed to (JSON, a download)."""
    data = await rt.order_access.export(token)
    return JSONResponse(data, headers={
        "Content-Disposition": 'attachment; filename="my-personal-data.json"',
        "Cache-Control": "no-store"})


@router.delete("/api/order-links/{token}/personal-data", responses=ERRORS)
async def erase_personal_data(token: Token, rt: RuntimeDep) -> dict[str, Any]:
    """Erases the buyer's name and address from their orders; the tickets stay valid."""
    return {"erasedOrders": await rt.order_access.erase(token)}


@router.post("/api/orders/lookup", status_code=202,
             responses=error_responses(400, 413, 422, 429))
async def lookup_order(body: OrderLookupIn, request: Request, rt: RuntimeDep
                       ) -> dict[str, str]:
    await rt.order_access.lookup(body.email, body.reference,
                                 request.client.host if request.client else None)
    return LOOKUP_ANSWER


def iso_seconds(epoch_s: int) -> str | None:
    from datetime import UTC, datetime

    return iso(datetime.fromtimestamp(epoch_s, UTC)) if epoch_s else None
