"""A buyer's e-tickets: the list, a PDF, and where to mail them.

Reads accept the buyer's signed cookie as well as X-Caller-Id, so the PDF link on My tickets
works as a plain download; the write needs X-Caller-Id (no cookie-authenticated writes).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response

from ticketing_app.api.admin_schemas import ContactIn
from ticketing_app.api.deps import CALLER_PATTERN, CallerDep, RuntimeDep, resolve_buyer
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import OptionalIdQuery
from ticketing_app.bootstrap import Runtime
from ticketing_app.domain import errors
from ticketing_app.domain.identity import verify_buyer_token
from ticketing_app.i18n import locale_from_headers, use_locale

router = APIRouter(prefix="/api/tickets", tags=["tickets"],
                   responses=error_responses(400, 401, 404, 413, 422))
PDF: dict[int | str, dict[str, Any]] = {
    200: {"description": "the tickets as a PDF", "content": {"application/pdf": {}}}}


async def reader(request: Request, rt: RuntimeDep,
                 x_caller_id: Annotated[str | None, Header(alias="X-Caller-Id",
                                                  pattern=CALLER_PATTERN)] = None) -> str:
    if x_caller_id:
        return resolve_buyer(rt, x_caller_id)
    cookie = request.cookies.get(rt.settings.buyer_cookie_name, "")
    buyer = verify_buyer_token(rt.settings.secret_key, cookie) if cookie else None
    if buyer is None:
        raise errors.Unauthenticated("Open My tickets in the browser you bought with.")
    return buyer


ReaderDep = Annotated[str, Depends(reader)]


@router.get("")
async def my_tickets(buyer: ReaderDep, rt: RuntimeDep) -> list[dict[str, Any]]:
    return [t.public() for t in await rt.buyer_tickets.for_buyer(buyer)]


@router.get("/pdf", response_class=Response, responses=PDF)
async def pdf(buyer: ReaderDep, rt: RuntimeDep, request: Request,
              orderId: OptionalIdQuery = None) -> Response:
    """The buyer's valid tickets, printed in their language (the language cookie, else
    Accept-Language), with a font that has Hangul and the won sign."""
    tickets = [t for t in await pdf_tickets(rt, buyer, orderId)]
    if not tickets:
        raise errors.NotFound("No valid tickets to print.")
    name = f"tickets-order-{orderId}.pdf" if orderId else "tickets.pdf"
    with use_locale(locale_from_headers(request.headers.get("cookie", ""),
                                        request.headers.get("accept-language", ""))):
        body = await rt.ticket_docs.pdf(tickets)
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


async def pdf_tickets(rt: Runtime, buyer: str, order_id: int | None) -> list[Any]:
    return [t for t in await rt.buyer_tickets.for_buyer(buyer, order_id) if t.usable]


@router.put("/contact")
async def set_contact(body: ContactIn, buyer: CallerDep, rt: RuntimeDep) -> dict[str, str]:
    return {"email": await rt.buyer_tickets.set_email(buyer, body.email, body.name)}
