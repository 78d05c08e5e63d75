"""The admin REST API: sign-in, venues, events, tiers, sales control, refunds, cancellation,
the dashboard and the audit log.

Everything here except `login` and `logout` sits on `protected`, whose router-level dependency
refuses anyone without a live admin session (tests enumerate the routes to prove it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError

from ticketing_app.api.admin_auth import (
    AdminDep,
    check_origin,
    clear_session_cookie,
    needs,
    require_admin,
    session_token,
    set_session_cookie,
)
from ticketing_app.api.admin_schemas import (
    CancelIn,
    EventIn,
    EventSettingsIn,
    LoginIn,
    RefundIn,
    SeatsIn,
    SectionIn,
    StatusIn,
    TierAssignIn,
    TierIn,
    VenueImportIn,
    VenueIn,
    VenueLayoutIn,
)
from ticketing_app.api.deps import RuntimeDep
from ticketing_app.api.errors import error_responses
from ticketing_app.api.schemas import MAX_ID, IdPath
from ticketing_app.db.models import AuditLog, BackgroundJobRecord, Event, PriceTier
from ticketing_app.domain import errors
from ticketing_app.domain.access import parse_features
from ticketing_app.domain.events import iso
from ticketing_app.domain.layouts import GridSpec, Position, Problems, stack_grids
from ticketing_app.domain.roles import Capability
from ticketing_app.domain.seats import row_label
from ticketing_app.domain.venue_editor import EditSeat, at_grid
from ticketing_app.routes import ADMIN, admin_login_url, next_from_referer, safe_next
from ticketing_app.services.admin_venues import VenueLayout
from ticketing_app.services.box_office import order_money
from ticketing_app.services.catalog import event_public

PUBLIC_PATHS = frozenset({"/api/admin/login", "/api/admin/logout"})

public = APIRouter(prefix="/api/admin", tags=["admin"])
protected = APIRouter(prefix="/api/admin", tags=["admin"],
                      dependencies=[Depends(require_admin)],
                      responses=error_responses(400, 401, 403, 404, 409, 413, 422))
LOGIN_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["username", "password"],
    "properties": {"username": {"type": "string", "maxLength": 200},
                   "password": {"type": "string", "maxLength": 1000}}}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
REDIRECT: dict[int | str, dict[str, Any]] = {303: {"description": "the login form's redirect"}}


# ---- sign-in ------------------------------------------------------------------------------
@public.post("/login", responses={**REDIRECT, **error_responses(400, 401, 403, 413, 429)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": LOGIN_SCHEMA},
                 "application/x-www-form-urlencoded": {"schema": {
                     **LOGIN_SCHEMA, "properties": {**LOGIN_SCHEMA["properties"],
                                                    "next": {"type": "string"}}}}}}})
async def login(request: Request, rt: RuntimeDep) -> Response:
    """JSON `{username, password}` answers 200 or 401; the login page's form post answers
    with a redirect (into the admin area, or back to the form with an error)."""
    check_origin(request)
    is_form = request.headers.get("content-type", "").startswith(FORM_TYPES)
    try:
        if is_form:  # the login page's form (a browser always sends both fields)
            form = await request.form()
            body = LoginIn.model_validate({"username": form.get("username"),
                                           "password": form.get("password")})
            next_path = safe_next(str(form.get("next", "")))
            if next_path == ADMIN:  # the field not filled yet: the page's own address says
                next_path = next_from_referer(request.headers.get("referer"))
        else:
            body = LoginIn.model_validate_json(await request.body())
            next_path = "/admin"
    except ValidationError:
        raise errors.BadRequest("Send username and password (JSON or a form).") from None
    username, password = body.username, body.password
    ip = request.client.host if request.client else "?"
    try:
        token, who = await rt.admin_auth.login(username, password, client=ip)
    except (errors.Unauthenticated, errors.RateLimited) as exc:
        if not is_form:
            raise
        reason = "rate" if isinstance(exc, errors.RateLimited) else "invalid"
        return RedirectResponse(admin_login_url(next_path, error=reason), 303)
    response: Response
    if is_form:
        response = RedirectResponse(next_path, 303)
    else:
        response = JSONResponse({"username": who.username, "expiresAt": iso(who.expires_at)})
    set_session_cookie(response, rt, token)
    response.headers["Cache-Control"] = "no-store"
    return response


@public.post("/logout", status_code=204,
             responses={**REDIRECT, **error_responses(403)})
async def logout(request: Request, rt: RuntimeDep) -> Response:
    check_origin(request)
    await rt.admin_auth.logout(session_token(rt, request))
    is_form = request.headers.get("content-type", "").startswith(FORM_TYPES)
    response: Response = RedirectResponse("/admin/login", 303) if is_form \
        else Response(status_code=204)
    clear_session_cookie(response, rt)
    return response


@protected.get("/me")
@needs(Capability.CHECK_IN)
async def me(who: AdminDep) -> dict[str, Any]:
    """Who is signed in, and their role (door staff may ask too)."""
    return {"username": who.username, "role": who.role, "expiresAt": iso(who.expires_at)}


# ---- venues -------------------------------------------------------------------------------
def grids_from(sections: Sequence[SectionIn]) -> list[GridSpec]:
    """Sections typed in a form, stacked one under the other on the venue's grid."""
    problems = Problems()
    grids: list[GridSpec] = []
    for i, sec in enumerate(sections, 1):
        try:
            grids.append(sec.grid(0))
        except ValueError as exc:
            problems.add(f"section {i}", str(exc))
    problems.raise_if_any("Invalid layout")
    return stack_grids(grids)


def positions_out(positions: Sequence[Position]) -> dict[str, Any]:
    return {"seats": len(positions),
            "rows": max((r for _, r, _ in positions), default=0),
            "cols": max((c for _, _, c in positions), default=0),
            "positions": [{"section": s, "r": r, "c": c} for s, r, c in positions]}


@protected.get("/venues")
async def venues(rt: RuntimeDep) -> list[dict[str, Any]]:
    return [v.__dict__ for v in await rt.admin.list_venues()]


@protected.post("/venues", status_code=201)
async def create_venue(body: VenueIn, who: AdminDep, rt: RuntimeDep) -> dict[str, Any]:
    v = await rt.admin.create_venue(who.username, body.name, grids_from(body.sections),
                                    body.address, body.timeZone)
    return {"id": v.id, "name": v.name, "timeZone": v.time_zone,
            **positions_out(await rt.admin.venue_positions(int(v.id or 0)))}


@protected.post("/venues/import", status_code=201)
async def import_venue(body: VenueImportIn, who: AdminDep, rt: RuntimeDep) -> dict[str, Any]:
    v = await rt.admin.import_venue(who.username, body.name, body.content, body.format,
                                    body.address, body.timeZone)
    return {"id": v.id, "name": v.name, "timeZone": v.time_zone,
            **positions_out(await rt.admin.venue_positions(int(v.id or 0)))}


@protected.post("/venues/preview")
async def preview_venue(body: VenueIn, rt: RuntimeDep) -> dict[str, Any]:
    return positions_out(rt.admin.preview_positions(grids_from(body.sections)))


@protected.get("/venues/{venue_id}/layout")
async def venue_layout(venue_id: IdPath, rt: RuntimeDep) -> dict[str, Any]:
    return positions_out(await rt.admin.venue_positions(venue_id))


def venue_layout_out(v: VenueLayout) -> dict[str, Any]:
    """A venue as the editor sees it: where every seat is drawn, what uses the venue, and
    whether its layout may still change (no event on it sold a seat)."""
    return {"id": v.venue.id, "name": v.venue.name, "address": v.venue.address,
            "timeZone": v.venue.time_zone, "fingerprint": v.fingerprint,
            "editable": not v.use.locked, "events": list(v.use.events),
            "soldSeats": v.use.sold_seats, "orders": v.use.orders,
            "sections": v.venue.sections,
            "seats": [{"section": s.section, "r": s.r, "c": s.c, "row": row_label(s.r),
                       "x": s.x, "y": s.y, "features": sorted(s.features)}
                      for s in v.seats]}


def edit_seats_from(body: VenueLayoutIn) -> list[EditSeat]:
    problems = Problems()
    seats: list[EditSeat] = []
    for i, s in enumerate(body.seats, 1):
        try:
            features = parse_features(s.features)
        except ValueError as exc:
            problems.add(f"seats[{i}]", str(exc))
            continue
        seats.append(at_grid(s.section.strip(), s.r, s.c, features, x=s.x, y=s.y))
    problems.raise_if_any("Invalid layout")
    return seats


# Venue ids are integers by route: any other path under /venues (`/venues/import`) is not
# this route's, so an undeclared method there is 405, not a refused id. A path whose id is
# not a number matches no route either: 405 is declared for it.
NOT_A_VENUE = error_responses(405)


@protected.get("/venues/{venue_id:int}", responses=NOT_A_VENUE)
async def venue_detail(venue_id: IdPath, rt: RuntimeDep) -> dict[str, Any]:
    """The venue editor's view of a venue (404 NOT_FOUND for an unknown id)."""
    return venue_layout_out(await rt.admin.venue_for_edit(venue_id))


@protected.put("/venues/{venue_id:int}/layout", responses=NOT_A_VENUE)
async def save_venue_layout(venue_id: IdPath, body: VenueLayoutIn, who: AdminDep,
                            rt: RuntimeDep) -> dict[str, Any]:
    """Replaces the venue's layout, validated whole: `422 VALIDATION_FAILED` with every
    problem listed (duplicate seats, seats drawn on top of each other, ...), `409 CONFLICT`
    once an event on the venue sold seats or when the layout changed since `fingerprint`.
    Events already created keep their own seats; the change applies to new events."""
    seats = edit_seats_from(body)
    return venue_layout_out(await rt.admin.save_venue_layout(
        who.username, venue_id, seats, body.fingerprint))


# ---- events -------------------------------------------------------------------------------
def event_admin_out(ev: Event, tiers: Sequence[PriceTier] = (),
                    counts: dict[int, int] | None = None) -> dict[str, Any]:
    return {**event_public(ev), "holdMaxTotalSeconds": ev.hold_max_total_s,
            "webHoldMaxTotalSeconds": ev.web_hold_max_total_s,
            "waitingRoomDifficulty": ev.waiting_room_difficulty,
            "updatedAt": iso(ev.updated_at),
            "tiers": [{"id": t.id, "name": t.name, "price": t.price, "color": t.color,
                       "seats": (counts or {}).get(int(t.id or 0), 0)} for t in tiers]}


@protected.get("/events")
async def events(rt: RuntimeDep) -> list[dict[str, Any]]:
    return [event_admin_out(e) for e in await rt.admin.list_events()]


@protected.post("/events", status_code=201)
async def create_event(body: EventIn, who: AdminDep, rt: RuntimeDep) -> dict[str, Any]:
    s = body.settings()
    ev = await rt.admin.create_event(
        who.username, title=s.title, starts_at=s.starts_at, venue_id=body.venueId,
        tiers=[t.spec() for t in body.tiers], description=s.description,
        currency=s.currency, status=body.status, **s.sale_values())
    return await event_detail(int(ev.id or 0), rt)


@protected.get("/events/{event_id}")
async def event_detail(event_id: IdPath, rt: RuntimeDep) -> dict[str, Any]:
    ev = await rt.catalog.get_event(event_id, fresh=True)
    return event_admin_out(ev, await rt.admin.tiers(event_id),
                           await rt.admin.tier_seat_counts(event_id))


@protected.put("/events/{event_id}")
async def update_event(event_id: IdPath, body: EventSettingsIn, who: AdminDep,
                       rt: RuntimeDep) -> dict[str, Any]:
    await rt.admin.update_event(who.username, event_id, body.settings())
    return await event_detail(event_id, rt)


@protected.post("/events/{event_id}/status")
async def set_status(event_id: IdPath, body: StatusIn, who: AdminDep,
                     rt: RuntimeDep) -> dict[str, Any]:
    await rt.admin.set_status(who.username, event_id, body.status)
    return await event_detail(event_id, rt)


@protected.post("/events/{event_id}/tiers", status_code=201)
async def add_tier(event_id: IdPath, body: TierIn, who: AdminDep, rt: RuntimeDep
                   ) -> dict[str, Any]:
    await rt.admin.add_tier(who.username, event_id, body.name, body.price, body.color)
    return await event_detail(event_id, rt)


@protected.put("/events/{event_id}/tiers/{tier_id}")
async def update_tier(event_id: IdPath, tier_id: IdPath, body: TierIn, who: AdminDep,
                      rt: RuntimeDep) -> dict[str, Any]:
    await rt.admin.update_tier(who.username, event_id, tier_id, body.name, body.price,
                               body.color)
    return await event_detail(event_id, rt)


@protected.delete("/events/{event_id}/tiers/{tier_id}")
async def delete_tier(event_id: IdPath, tier_id: IdPath, who: AdminDep, rt: RuntimeDep
                      ) -> dict[str, Any]:
    await rt.admin.delete_tier(who.username, event_id, tier_id)
    return await event_detail(event_id, rt)


@protected.post("/events/{event_id}/tiers/{tier_id}/assign")
async def assign_tier(event_id: IdPath, tier_id: IdPath, body: TierAssignIn, who: AdminDep,
                      rt: RuntimeDep) -> dict[str, Any]:
    n = await rt.admin.assign_tier(who.username, event_id, tier_id, seat_ids=body.seatIds,
                                   sections=body.sections, rows=body.rows)
    return {"assigned": n, **await event_detail(event_id, rt)}


@protected.post("/events/{event_id}/seats/block")
async def block(event_id: IdPath, body: SeatsIn, who: AdminDep, rt: RuntimeDep) -> dict[str, int]:
    return {"changed": await rt.admin.block_seats(who.username, event_id, body.seatIds, True)}


@protected.post("/events/{event_id}/seats/unblock")
async def unblock(event_id: IdPath, body: SeatsIn, who: AdminDep, rt: RuntimeDep
                  ) -> dict[str, int]:
    return {"changed": await rt.admin.block_seats(who.username, event_id, body.seatIds, False)}


@protected.post("/events/{event_id}/seats/remove")
async def remove_seats(event_id: IdPath, body: SeatsIn, who: AdminDep, rt: RuntimeDep
                       ) -> dict[str, int]:
    return {"removed": await rt.admin.remove_seats(who.username, event_id, body.seatIds)}


@protected.post("/events/{event_id}/holds/release")
async def release_holds(event_id: IdPath, who: AdminDep, rt: RuntimeDep) -> dict[str, int]:
    return {"released": await rt.admin.release_all_holds(who.username, event_id)}


@protected.get("/events/{event_id}/dashboard")
async def dashboard(event_id: IdPath, rt: RuntimeDep) -> dict[str, Any]:
    return (await rt.dashboard.stats(event_id)).as_dict()


@protected.get("/events/{event_id}/orders")
async def event_orders(event_id: IdPath, rt: RuntimeDep, status: str = "",
                       orderId: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
                       buyer: str = "") -> list[dict[str, Any]]:
    await rt.catalog.get_event(event_id)
    views = await rt.admin.orders_for_event(event_id, status[:20], orderId, buyer[:80])
    return [{**v.public(), "buyerId": v.order.buyer_id} for v in views]


@protected.post("/events/{event_id}/cancel", status_code=202)
async def cancel_event(event_id: IdPath, body: CancelIn, who: AdminDep, rt: RuntimeDep
                       ) -> dict[str, Any]:
    return job_out(await rt.cancellation.cancel_event(who.username, event_id, body.reason))


# ---- orders, jobs, audit ------------------------------------------------------------------
@protected.post("/orders/{order_id}/refund")
async def refund(order_id: IdPath, body: RefundIn, who: AdminDep, rt: RuntimeDep
                 ) -> dict[str, Any]:
    view = await rt.admin.refund(who.username, order_id, body.seatIds, body.block,
                                 body.allowCheckedIn)
    return {**view.public(), **order_money(view).public()}


def job_out(job: BackgroundJobRecord) -> dict[str, Any]:
    return {"jobId": job.id, "kind": job.kind, "target": job.target, "status": job.status,
            "total": job.total, "done": job.done, "message": job.message,
            "createdAt": iso(job.created_at), "updatedAt": iso(job.updated_at)}


@protected.get("/jobs/{job_id}")
async def job(job_id: IdPath, rt: RuntimeDep) -> dict[str, Any]:
    row = await rt.cancellation.job(job_id)
    if row is None:
        raise errors.NotFound(f"Job {job_id} not found.")
    return job_out(row)


def audit_out(a: AuditLog) -> dict[str, Any]:
    return {"id": a.id, "actor": a.actor, "action": a.action, "target": a.target,
            "details": a.details, "at": iso(a.created_at)}


@protected.get("/audit")
async def audit(rt: RuntimeDep, limit: Annotated[int, Query(ge=-MAX_ID, le=MAX_ID)] = 100,
                offset: Annotated[int, Query(ge=-MAX_ID, le=MAX_ID)] = 0, actor: str = "",
                target: str = "") -> list[dict[str, Any]]:
    rows = await rt.admin.audit_rows(max(1, min(limit, 500)), max(0, offset), actor[:80],
                                     target[:120])
    return [audit_out(a) for a in rows]


router = APIRouter()
router.include_router(public)
router.include_router(protected)
