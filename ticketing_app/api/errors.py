"""One error body for every failure: `{code, message, traceId, details?}`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketing_app.api.schemas import ErrorBody
from ticketing_app.domain import errors
from ticketing_app.observability.tracing import current_trace_id

log = structlog.get_logger(__name__)

STATUS_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 410: "RESERVATION_EXPIRED",
    413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 422: "VALIDATION_FAILED",
    429: "RATE_LIMITED", 503: "SERVICE_UNAVAILABLE",
}


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None
               ) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "traceId": current_trace_id()}
    if details:
        body["details"] = details
    return body


def error_response(status: int, code: str, message: str,
                   details: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def domain_error_response(exc: errors.DomainError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def stored_error(status: int, body: dict[str, Any]) -> errors.DomainError:
    """The error answer stored for an idempotency key, to raise again for a repeat."""
    exc = errors.DomainError(body.get("message"), body.get("details"))
    exc.status, exc.code = status, body.get("code", "BAD_REQUEST")
    return exc


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of error answers: each is the standard error body."""
    return {code: {"model": ErrorBody, "description": STATUS_CODES.get(code, "ERROR")}
            for code in codes}


def _validation_details(exc: RequestValidationError) -> tuple[bool, list[dict[str, Any]]]:
    """(malformed, details): unparseable JSON, a missing body or a missing header is a 400;
    well-formed input with wrong fields is a 422."""
    malformed = False
    details = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ())]
        kind = e.get("type", "")
        if kind == "json_invalid" or (kind == "missing" and loc in (["body"], [])) or (
            loc and loc[0] == "header"
        ):
            malformed = True
        if kind == "json_invalid":
            field = "body"
        else:
            field = ".".join(loc[1:]) if len(loc) > 1 else (loc[0] if loc else "body")
        details.append({"field": field, "message": e.get("msg", "invalid")})
    return malformed, details


def install_error_handlers(app: FastAPI,
                           allowed: Callable[[FastAPI, Any], list[str]] | None = None) -> None:
    """`allowed(app, scope)`: the methods a path answers (the `Allow` of a 405)."""
    @app.exception_handler(errors.DomainError)
    async def _domain(_: Request, exc: errors.DomainError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        malformed, details = _validation_details(exc)
        if malformed:
            return error_response(400, "BAD_REQUEST", "The request is malformed.", details)
        return error_response(422, "VALIDATION_FAILED", "The request is invalid.", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "INTERNAL_ERROR" if exc.status_code >= 500
                                else "BAD_REQUEST")
        message = exc.detail if isinstance(exc.detail, str) else code
        headers = getattr(exc, "headers", None)
        if exc.status_code == 404 and message == "Not Found":
            message = f"No API route {request.url.path}."
        if exc.status_code == 405:
            methods = allowed(app, request.scope) if allowed else []
            message = f"{request.method} is not allowed here."
            headers = {**(headers or {}), "Allow": ", ".join(methods)} if methods else headers
        return error_response(exc.status_code, code, message, headers=headers)

    async def _other(_: Request, exc: Exception) -> JSONResponse:
        status, body, headers = exception_answer(exc)
        return JSONResponse(body, status_code=status, headers=headers)

    for exc_type in (*DEPENDENCY_ERRORS, DataError, OverflowError, Exception):
        app.add_exception_handler(exc_type, _other)


# A dependency (database, Redis) is down or answered too slowly: 503, retry shortly.
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    OperationalError, DBAPIError, PoolTimeout, RedisConnectionError, RedisTimeoutError,
    ConnectionError, OSError)


def exception_answer(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """(status, standard body, headers) for any exception a request raised: the one mapping
    of the FastAPI handlers and the hot path alike."""
    if isinstance(exc, errors.DomainError):
        return exc.status, error_body(exc.code, exc.message, exc.details), exc.headers
    if isinstance(exc, DataError | OverflowError) or (
            isinstance(exc, DBAPIError) and is_refused_value(exc)):
        # The database refused a value (out of range, too long; SQLite's driver raises a plain
        # OverflowError): the input's fault, not an outage. The API's own bounds should catch
        # these first; this is the safety net.
        log.warning("database_refused_value", error=str(getattr(exc, "orig", exc))[:300])
        return 422, error_body("VALIDATION_FAILED", "A value is out of range."), None
    if isinstance(exc, DEPENDENCY_ERRORS):
        log.warning("dependency_unavailable", kind=type(exc).__name__, error=str(exc)[:300])
        return 503, error_body("SERVICE_UNAVAILABLE",
                               "A dependency is unavailable; retry shortly."), None
    log.error("unhandled_error", error=str(exc), exc_info=exc)
    return 500, error_body("INTERNAL_ERROR", "Something went wrong on our side."), None


def is_refused_value(exc: DBAPIError) -> bool:
    """A value the database (or the driver, before sending it: asyncpg checks an integer
    against int32 itself) refused: SQLSTATE class 22, "data exception". SQLAlchemy's asyncpg
    adapter raises these as a plain DBAPIError rather than a DataError."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or ""
    return isinstance(code, str) and code.startswith("22")
