"""Why a ticket is refused at the door. Each carries the standard error code and status, and
`details` say what the gate staff need (who scanned it first, and when)."""

from __future__ import annotations

from ticketing_app.domain.errors import DomainError


class TicketInvalid(DomainError):
    """Forged or altered: the signature does not match (decided without any lookup)."""

    code, status = "TICKET_INVALID", 422
    default_message = "This is not a genuine ticket code."


class TicketNotFound(DomainError):
    code, status, default_message = "TICKET_NOT_FOUND", 404, "No ticket has this code."


class TicketAlreadyUsed(DomainError):
    code, status = "TICKET_ALREADY_USED", 409
    default_message = "This ticket was already scanned."


class TicketRefunded(DomainError):
    code, status = "TICKET_REFUNDED", 409
    default_message = "This ticket was refunded and is no longer valid."


class TicketWrongEvent(DomainError):
    code, status = "TICKET_WRONG_EVENT", 409
    default_message = "This ticket is for another event."


class EventCancelled(DomainError):
    code, status = "EVENT_CANCELLED", 409
    default_message = "This event is cancelled."


class TicketCheckedIn(DomainError):
    """A refund that would take back a ticket already admitted at the door: the organiser is
    asked first (`allowCheckedIn` in the admin API, a second confirmation on the page)."""

    code, status = "TICKET_CHECKED_IN", 409
    default_message = "A ticket to refund was already used at the door."
