"""Request bodies of the admin, check-in and ticket routes (apart from the tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ticketing_app.api.schemas import SeatId
from ticketing_app.domain.event_rules import EventSettings, TierSpec
from ticketing_app.domain.layouts import GridSpec, parse_cells, parse_numbers
from ticketing_app.domain.sale_settings import SaleSettings, api_name

# A row number as the database stores it (32-bit): larger ones are invalid input.
RowNumber = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]

EMAIL_SCHEMA_PATTERN = (r"^\s*$|^\s*[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,}\s*$")


class Strict(BaseModel):
    """Request bodies: no unknown fields, no coercion (`true` is not 1, "5" is not 5)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class LoginIn(Strict):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)


class SectionIn(Strict):
    """One block of a generated layout; `gaps` like "B3, C4", aisles as numbers."""

    name: str = Field(max_length=200)
    rows: int = Field(ge=-(2**31), le=2**31 - 1)
    cols: int = Field(ge=-(2**31), le=2**31 - 1)
    gaps: str = Field(default="", max_length=5000)
    aisleCols: str = Field(default="", max_length=1000)
    aisleRows: str = Field(default="", max_length=1000)
    # Seats with a feature, like gaps ("A1, A2"); aisle seats are found by themselves.
    wheelchair: str = Field(default="", max_length=5000)
    companion: str = Field(default="", max_length=5000)
    restricted: str = Field(default="", max_length=5000)

    def grid(self, row_offset: int) -> GridSpec:
        return GridSpec(self.name, self.rows, self.cols, parse_cells(self.gaps),
                        parse_numbers(self.aisleCols), parse_numbers(self.aisleRows),
                        row_offset=row_offset, wheelchair=parse_cells(self.wheelchair),
                        companion=parse_cells(self.companion),
                        restricted=parse_cells(self.restricted))


class VenueIn(Strict):
    name: str = Field(max_length=1000)
    address: str = Field(default="", max_length=2000)
    timeZone: str = Field(default="", max_length=64)  # IANA; DEFAULT_TIME_ZONE when empty
    sections: list[SectionIn] = Field(min_length=1, max_length=50)


class VenueImportIn(Strict):
    name: str = Field(max_length=1000)
    address: str = Field(default="", max_length=2000)
    timeZone: str = Field(default="", max_length=64)
    format: str = Field(max_length=10)
    content: str = Field(max_length=2_000_000)


class EditSeatIn(Strict):
    """One seat of an edited layout: section, row and seat number (what tickets say), where
    it is drawn in seat widths (`x`, `y`; omitted: at its row and number), its features."""

    section: str = Field(max_length=200)
    r: RowNumber
    c: RowNumber
    x: float | None = Field(default=None, ge=-1e6, le=1e6, allow_inf_nan=False)
    y: float | None = Field(default=None, ge=-1e6, le=1e6, allow_inf_nan=False)
    features: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list,
                                                                 max_length=8)


class VenueLayoutIn(Strict):
    """A venue's whole layout (`PUT /api/admin/venues/{id}/layout`); `fingerprint` as the
    layout was read (`GET /api/admin/venues/{id}`), so a save over someone else's is
    refused (empty: no check)."""

    fingerprint: str = Field(default="", max_length=64)
    seats: list[EditSeatIn] = Field(max_length=20_000)


class TierIn(Strict):
    name: str = Field(max_length=1000)
    price: int = Field(ge=-(2**62), le=2**62)
    color: str = Field(default="#10b981", max_length=50)
    rows: list[RowNumber] = Field(default_factory=list, max_length=500)
    sections: list[str] = Field(default_factory=list, max_length=100)

    def spec(self) -> TierSpec:
        return TierSpec(self.name, self.price, self.color, tuple(self.rows),
                        tuple(self.sections))


class EventSettingsIn(SaleSettings, Strict):
    """The event form: the sale settings (declared in `domain/sale_settings.py`) under the
    API's names (`holdMinSeconds`, ...), with the title, date, description and currency. The
    rules (`check_settings`) judge the values, with every problem listed."""

    model_config = ConfigDict(extra="forbid", strict=True, alias_generator=api_name)

    title: str = Field(max_length=1000)
    description: str = Field(default="", max_length=20000)
    starts_at: datetime = Field(strict=False)  # `startsAt`: an ISO 8601 string in JSON
    currency: str = Field(default="KRW", max_length=10)

    def settings(self) -> EventSettings:
        return EventSettings(self.title, self.starts_at, description=self.description,
                             currency=self.currency, **self.sale_values())


class EventIn(EventSettingsIn):
    venueId: int = Field(ge=1, le=2**31 - 1)
    tiers: list[TierIn] = Field(min_length=1, max_length=50)
    status: str = Field(default="DRAFT", max_length=20)


class StatusIn(Strict):
    status: str = Field(max_length=20)


class TierAssignIn(Strict):
    seatIds: list[SeatId] = Field(default_factory=list, max_length=20000)
    sections: list[str] = Field(default_factory=list, max_length=100)
    rows: list[RowNumber] = Field(default_factory=list, max_length=500)


class SeatsIn(Strict):
    seatIds: list[SeatId] = Field(min_length=1, max_length=20000)


class RefundIn(Strict):
    seatIds: list[SeatId] | None = Field(default=None, min_length=1, max_length=50)
    block: bool = False
    # A ticket already admitted at the door is refunded only when this says so (else 409
    # TICKET_CHECKED_IN naming the tickets).
    allowCheckedIn: bool = False


class CancelIn(Strict):
    reason: str = Field(max_length=2000)


class CheckinIn(Strict):
    # The scanned or typed code; or, for a ticket found by name at the door, its id (with
    # eventId): one of the two.
    code: str = Field(default="", max_length=500)
    gate: str = Field(default="", max_length=200)
    eventId: int | None = Field(default=None, ge=1, le=2**31 - 1)
    ticketId: int | None = Field(default=None, ge=1, le=2**31 - 1)


class ContactIn(Strict):
    # The pattern documents what the service accepts (empty = forget the address); the service
    # checks it and answers with its own message.
    email: str = Field(max_length=500, json_schema_extra={"pattern": EMAIL_SCHEMA_PATTERN})
    # Optional: the box office finds the buyer's orders and tickets by it (migration 0008).
    name: str | None = Field(default=None, max_length=200)


class OfficeClaimIn(Strict):
    """A comp or a named reservation: the seats and the customer (the tickets are mailed)."""

    seatIds: list[SeatId] = Field(min_length=1, max_length=50)
    name: str = Field(max_length=500)
    email: str = Field(max_length=500, json_schema_extra={"pattern": EMAIL_SCHEMA_PATTERN})


def _iso_text(value: object) -> object:
    """A time in JSON is an ISO 8601 string (a number is not a time here)."""
    if value is not None and not isinstance(value, str):
        raise ValueError("an ISO 8601 date-time string")
    return value


IsoTime = Annotated[Annotated[datetime, Field(strict=False)] | None, BeforeValidator(_iso_text)]


class PresaleWindowIn(Strict):
    """When code holders may buy, and when everyone may (both null: no presale)."""

    presaleStartsAt: IsoTime = None
    publicSaleStartsAt: IsoTime = None


class AccessCodeIn(Strict):
    code: str = Field(default="", max_length=40)  # empty: a generated code
    maxUses: int = Field(ge=-(2**31), le=2**31 - 1)


class AccessCodeRedeemIn(Strict):
    code: str = Field(max_length=40)


class WaitlistJoinIn(Strict):
    email: str = Field(max_length=500, json_schema_extra={"pattern": EMAIL_SCHEMA_PATTERN})
