"""Best available: `POST /api/reservations/best` holds the best N adjacent seats of a tier.

201 with the held seats; 409 RESERVATION_CONFLICT when no N seats are left together (details
give the largest block left); 422 VALIDATION_FAILED for an unknown tier or a quantity no row
of the tier could ever seat together; 401 while the waiting room is on without an admission.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ticketing_app.api.deps import CallerDep, RuntimeDep
from ticketing_app.api.routes.reservations import ERRORS, AdmissionHeader
from ticketing_app.api.schemas import BestAvailableIn, BestAvailableOut
from ticketing_app.observability.tracing import current_trace_id

router = APIRouter(prefix="/api/reservations", tags=["reservations"])


@router.post("/best", status_code=201, response_model=BestAvailableOut, responses=ERRORS)
async def hold_best(body: BestAvailableIn, buyer: CallerDep, rt: RuntimeDep, request: Request,
                    x_admission_token: AdmissionHeader = None) -> dict[str, Any]:
    service = rt.best_available
    held = await service.hold_best(buyer, body.eventId, body.quantity, body.tier,
                                   body.holdSeconds,
                                   admission=x_admission_token or body.admissionToken,
                                   client=request.client.host if request.client else None,
                                   companions=body.companions if body.wheelchair else None)
    return service.public(held, current_trace_id())
