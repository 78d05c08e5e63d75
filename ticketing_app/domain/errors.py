"""Domain errors carry the contract's error code, so every entry point maps them the same way."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule was broken; `code` and `status` follow the shared error table."""

    code = "BAD_REQUEST"
    status = 400
    default_message = "The request could not be processed."

    def __init__(self, message: str | None = None, details: list[dict[str, Any]] | None = None):
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    @property
    def headers(self) -> dict[str, str] | None:
        """Response headers the error carries (Retry-After, Allow)."""
        return None


class BadRequest(DomainError):
    code, status, default_message = "BAD_REQUEST", 400, "The request is malformed."


class Unauthenticated(DomainError):
    code, status, default_message = "UNAUTHENTICATED", 401, "Authentication is required."


class NoBuyerCookie(Unauthenticated):
    """A web session without the signed buyer cookie (not a browser that loaded a page)."""

    default_message = "Your browser did not send our cookie: reload the page to choose seats."


class ChallengeRequired(Unauthenticated):
    """A new place in a waiting room that is on needs a solved bot-check challenge."""

    default_message = "Solve the waiting room's challenge before joining the queue."


class Forbidden(DomainError):
    code, status, default_message = "FORBIDDEN", 403, "You are not allowed to do this."


class WheelchairSpaceReserved(Forbidden):
    """A wheelchair space, held back for buyers who need one until the organiser's release
    time (domain/access.py)."""

    default_message = "This is a wheelchair space, kept for buyers who need one."


class EventNotFound(DomainError):
    code, status, default_message = "EVENT_NOT_FOUND", 404, "Event not found."


class OrderNotFound(DomainError):
    code, status, default_message = "ORDER_NOT_FOUND", 404, "Order not found."


class NotFound(DomainError):
    code, status, default_message = "NOT_FOUND", 404, "Not found."


class MethodNotAllowed(DomainError):
    code, status, default_message = "METHOD_NOT_ALLOWED", 405, "This method is not allowed here."

    def __init__(self, allow: list[str], message: str | None = None):
        super().__init__(message)
        self.allow = allow

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Allow": ", ".join(self.allow)}


class ReservationConflict(DomainError):
    code, status = "RESERVATION_CONFLICT", 409
    default_message = "Someone else is holding this seat."


class IdempotencyInProgress(DomainError):
    code, status = "IDEMPOTENCY_IN_PROGRESS", 409
    default_message = "A request with this Idempotency-Key is still being processed."


class SalesClosed(DomainError):
    code, status, default_message = "SALES_CLOSED", 409, "This event is not on sale."


class Conflict(DomainError):
    code, status, default_message = "CONFLICT", 409, "The resource changed; reload and retry."


class PaymentInProgress(DomainError):
    code, status = "PAYMENT_IN_PROGRESS", 409
    default_message = "A payment for this order is in progress; wait for its outcome."


class SeatInOrder(DomainError):
    code, status = "SEAT_IN_ORDER", 409
    default_message = "This seat is already in an order; it is no longer a hold."


class ReservationExpired(DomainError):
    code, status, default_message = "RESERVATION_EXPIRED", 410, "Your hold has expired."


class LinkExpired(DomainError):
    """A signed order link past its expiry (a changed one is 401 UNAUTHENTICATED)."""

    code, status = "LINK_EXPIRED", 410
    default_message = "This link has expired. Ask for a new one with Find my order."


class ValidationFailed(DomainError):
    code, status, default_message = "VALIDATION_FAILED", 422, "The request is invalid."


class SeatSold(ValidationFailed):
    default_message = "This seat is already sold."


class IdempotencyKeyReused(DomainError):
    code, status = "IDEMPOTENCY_KEY_REUSED", 422
    default_message = "This Idempotency-Key was used for a different request."


class LimitExceeded(DomainError):
    code, status = "LIMIT_EXCEEDED", 422
    default_message = "You have reached the seat limit for this event."


class OrphanSeat(DomainError):
    code, status = "ORPHAN_SEAT", 422
    default_message = "This would leave a single empty seat between taken seats."


class RateLimited(DomainError):
    code, status, default_message = "RATE_LIMITED", 429, "Too many requests; slow down."

    def __init__(self, retry_after: int, message: str | None = None, scope: str = ""):
        super().__init__(message)
        self.retry_after = retry_after
        self.scope = scope  # which limit: holder, ip, login, ...

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(DomainError):
    code, status = "SERVICE_UNAVAILABLE", 503
    default_message = "A dependency is unavailable; retry shortly."


class TooManyStreams(ServiceUnavailable):
    """This process already streams to as many clients as SSE_MAX_CLIENTS allows: another
    process behind the balancer, or this one a little later, can take the client."""

    default_message = "Too many live streams on this server right now; retry shortly."

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": "5"}

