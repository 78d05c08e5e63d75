"""Typed dependencies: the runtime and the caller's identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from ticketing_app.bootstrap import Runtime, get_runtime
from ticketing_app.domain import errors
from ticketing_app.domain.identity import BUYER_ID_RE, verify_buyer_token


async def runtime() -> Runtime:
    return await get_runtime()


RuntimeDep = Annotated[Runtime, Depends(runtime)]


def resolve_buyer(rt: Runtime, raw: str | None) -> str:
    """Signed buyer tokens always work; any opaque id only with TRUST_CALLER_ID."""
    if not raw:
        raise errors.BadRequest("The X-Caller-Id header is required.",
                                [{"field": "X-Caller-Id", "message": "missing header"}])
    buyer = verify_buyer_token(rt.settings.secret_key, raw)
    if buyer is not None:
        return buyer
    if not rt.settings.trust_caller_id:
        raise errors.Unauthenticated("X-Caller-Id is not a valid buyer token.")
    if not BUYER_ID_RE.match(raw):
        raise errors.BadRequest("X-Caller-Id must be 1-64 letters, digits or . _ - @",
                                [{"field": "X-Caller-Id", "message": "invalid characters"}])
    return raw


# Declared required in the OpenAPI (a missing one is a 400 with details naming it); any id of
# this shape is accepted with TRUST_CALLER_ID, else only a token from POST /api/buyers.
CALLER_PATTERN = BUYER_ID_RE.pattern


async def caller(rt: RuntimeDep,
                 x_caller_id: Annotated[str, Header(alias="X-Caller-Id", pattern=CALLER_PATTERN,
                                                    description="buyer token or id")]) -> str:
    return resolve_buyer(rt, x_caller_id)


CallerDep = Annotated[str, Depends(caller)]
