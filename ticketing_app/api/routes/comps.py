"""The box office's routes: comps and named reservations (`services/comps.py`), the
presale window and its access codes (`services/access_codes.py`).

Every admin route sits behind the admin session (`require_admin`, as `routes/admin.py`'s
`protected`); tests enumerate the routes to prove it. The buyer's route (redeeming a code)
identifies the buyer as every buyer route does (X-Caller-Id).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ticketing_app.api.admin_auth import AdminDep, require_admin
from ticketing_app.api.admin_schemas import (
    AccessCodeIn,
    AccessCodeRedeemIn,
    OfficeClaimIn,
    PresaleWindowIn,
    WaitlistJoinIn,
)
from ticketing_app.api.deps import CallerDep, RuntimeDep
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import IdPath
from ticketing_app.db.models import AccessCode
from ticketing_app.domain.events import iso
from ticketing_app.services.order_records import OrderView

protected = APIRouter(prefix="/api/admin", tags=["admin"],
                      dependencies=[Depends(require_admin)],
                      responses=error_responses(400, 401, 403, 404, 409, 413, 422))


def office_out(v: OrderView) -> dict[str, Any]:
    o = v.order
    return {**v.public(), "kind": o.kind, "customerName": o.customer_name,
            "customerEmail": o.customer_email}


@protected.post("/events/{event_id}/comps", status_code=201)
async def issue_comp(event_id: IdPath, body: OfficeClaimIn, who: AdminDep,
                     rt: RuntimeDep) -> dict[str, Any]:
    """Free tickets for these seats, mailed to the customer: 201 with the CONFIRMED order;
    409 RESERVATION_CONFLICT / 422 VALIDATION_FAILED when a seat is held or sold."""
    return office_out(await rt.comps.issue_comp(who.username, event_id, body.seatIds,
                                                     body.name, body.email))


@protected.post("/events/{event_id}/reservations", status_code=201)
async def reserve(event_id: IdPath, body: OfficeClaimIn, who: AdminDep,
                  rt: RuntimeDep) -> dict[str, Any]:
    """Seats held for a named customer until released or converted (at most until the
    event starts): 201 with the open order of kind RESERVATION."""
    return office_out(await rt.comps.reserve(who.username, event_id, body.seatIds,
                                                  body.name, body.email))


@protected.get("/events/{event_id}/box-office")
async def office_orders(event_id: IdPath, rt: RuntimeDep) -> list[dict[str, Any]]:
    await rt.catalog.get_event(event_id)
    return [office_out(v) for v in await rt.comps.list_for_event(event_id)]


@protected.post("/reservations/{order_id}/release")
async def release_reservation(order_id: IdPath, who: AdminDep, rt: RuntimeDep
                              ) -> dict[str, Any]:
    return office_out(await rt.comps.release(who.username, order_id))


@protected.post("/reservations/{order_id}/convert")
async def convert_reservation(order_id: IdPath, who: AdminDep, rt: RuntimeDep
                              ) -> dict[str, Any]:
    """The reservation becomes a CONFIRMED order (paid at the box office); tickets mailed."""
    return office_out(await rt.comps.convert(who.username, order_id))


# ---- the presale and its access codes ------------------------------------------------------
def code_out(c: AccessCode) -> dict[str, Any]:
    return {"id": c.id, "code": c.code, "maxUses": c.max_uses, "used": c.used,
            "createdAt": iso(c.created_at)}


@protected.put("/events/{event_id}/presale")
async def set_presale(event_id: IdPath, body: PresaleWindowIn, who: AdminDep,
                      rt: RuntimeDep) -> dict[str, Any]:
    """Code holders may claim seats from `presaleStartsAt`, everyone from
    `publicSaleStartsAt` (while the event is ON_SALE); both null: no presale."""
    ev = await rt.access_codes.set_window(who.username, event_id, body.presaleStartsAt,
                                          body.publicSaleStartsAt)
    return {"eventId": ev.id,
            "presaleStartsAt": iso(ev.presale_starts_at) if ev.presale_starts_at else None,
            "publicSaleStartsAt": (iso(ev.public_sale_starts_at)
                                   if ev.public_sale_starts_at else None)}


@protected.post("/events/{event_id}/access-codes", status_code=201)
async def create_code(event_id: IdPath, body: AccessCodeIn, who: AdminDep,
                      rt: RuntimeDep) -> dict[str, Any]:
    return code_out(await rt.access_codes.create_code(who.username, event_id, body.code,
                                                      body.maxUses))


@protected.get("/events/{event_id}/access-codes")
async def list_codes(event_id: IdPath, rt: RuntimeDep) -> list[dict[str, Any]]:
    await rt.catalog.get_event(event_id)
    return [code_out(c) for c in await rt.access_codes.codes(event_id)]


buyers = APIRouter(prefix="/api/events", tags=["presale"],
                   responses=error_responses(400, 401, 404, 409, 413, 422, 503))


@buyers.post("/{event_id}/access-code")
async def redeem_code(event_id: IdPath, body: AccessCodeRedeemIn, buyer: CallerDep,
                      rt: RuntimeDep) -> dict[str, Any]:
    """Opens the event's presale to this buyer: one use of the code, once per buyer (the
    same buyer entering it again uses nothing more). 422 for an unknown or used-up code."""
    await rt.catalog.public_event(event_id)
    await rt.access_codes.redeem(buyer, event_id, body.code)
    return {"eventId": event_id, "presale": True}


# ---- the waitlist ---------------------------------------------------------------------------
@buyers.post("/{event_id}/waitlist", status_code=201)
async def join_waitlist(event_id: IdPath, body: WaitlistJoinIn, rt: RuntimeDep
                        ) -> dict[str, Any]:
    """Joins a sold-out event's waitlist (409 CONFLICT while seats are on sale); a freed
    seat is offered by mail to the next in line for WAITLIST_OFFER_S."""
    entry = await rt.waitlist.join(event_id, body.email)
    return {"eventId": event_id, "status": entry.status,
            "position": await rt.waitlist.position(entry)}


@protected.get("/events/{event_id}/waitlist")
async def waitlist(event_id: IdPath, rt: RuntimeDep) -> list[dict[str, Any]]:
    """The line, first come first: each entry's state and, while offered, its link (the
    organiser may pass it on by phone)."""
    await rt.catalog.get_event(event_id)
    return [{"id": e.id, "email": e.email, "status": e.status,
             "seatIds": [int(x) for x in e.seat_ids.split(",") if x],
             "offerExpiresAt": iso(e.offer_expires_at) if e.offer_expires_at else None,
             "offerUrl": rt.waitlist.offer_url(e) if e.status == "OFFERED" else None,
             "joinedAt": iso(e.created_at)} for e in await rt.waitlist.entries(event_id)]


router = APIRouter()
router.include_router(protected)
router.include_router(buyers)
