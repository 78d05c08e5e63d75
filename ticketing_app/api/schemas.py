"""Request and response bodies of the REST API (the original's field names)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_ID = 2**31 - 1  # ids are 32-bit in the database: larger ones are invalid input, not a 503
PositiveId = Field(ge=1, le=MAX_ID)
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
SeatId = Annotated[int, Field(ge=1, le=MAX_ID)]
OptionalIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


class ErrorBody(BaseModel):
    code: str
    message: str
    traceId: str
    details: list[dict[str, Any]] | None = None


class EventOut(BaseModel):
    id: int
    title: str
    dateTime: str | None
    description: str
    status: str
    currency: str
    # The presale (null: none): code holders may hold from the first, everyone from the second.
    presaleStartsAt: str | None = None
    publicSaleStartsAt: str | None = None


class SeatOut(BaseModel):
    id: int
    r: int
    c: int
    price: int
    status: str
    section: str
    label: str
    tier: str
    features: list[str] = []  # wheelchair, companion, restricted, aisle
    # Where the seat is drawn, in seat widths (the venue editor's offsets, curves and moves);
    # null: at its row and number (x = c, y = r).
    x: float | None = None
    y: float | None = None


class SeatMapOut(BaseModel):
    eventId: int
    rows: int
    cols: int
    version: int
    currency: str
    seats: list[SeatOut]


def _one_seat_field(schema: dict[str, Any]) -> None:
    """HoldIn's schema: exactly one of seatId / seatIds, neither of them null."""
    for name in ("seatId", "seatIds"):
        prop = schema["properties"][name]
        prop.update(next(x for x in prop.pop("anyOf") if x.get("type") != "null"))
        prop.pop("default", None)
    schema["oneOf"] = [{"required": ["seatId"]}, {"required": ["seatIds"]}]


class HoldIn(BaseModel):
    """The original's single `seatId`, or our `seatIds` (all-or-nothing): exactly one."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_one_seat_field)
    eventId: int = PositiveId
    # Absent means None; an explicit null is refused (the schema has no null either).
    seatId: SeatId | None = None
    seatIds: Annotated[list[SeatId], Field(min_length=1, max_length=50)] | None = None
    holdSeconds: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    admissionToken: str | None = Field(default=None, max_length=300)  # or X-Admission-Token
    # A presale access code (or X-Access-Code), redeemed once per buyer before the hold.
    accessCode: str | None = Field(default=None, max_length=40)
    # The buyer needs a wheelchair space (may hold one before they open to everyone).
    wheelchair: bool = False

    @field_validator("seatId", "seatIds", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("leave the field out instead of null")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> HoldIn:
        if (self.seatId is None) == (self.seatIds is None):
            raise ValueError("give exactly one of seatId or seatIds")
        return self

    @property
    def seats(self) -> list[int]:
        return [self.seatId] if self.seatId is not None else list(self.seatIds or [])


class HoldOut(BaseModel):
    eventId: int
    seatId: int | None = None
    seatIds: list[int]
    holdSeconds: int
    expiresAt: str
    traceId: str


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    seconds: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)


class ExtendOut(BaseModel):
    expiresAt: str


class OrderIn(BaseModel):
    """The original's body; `buyerName` and `buyerEmail` (both or neither) send the
    confirmation, with the link that opens the tickets on any device, to that address."""

    model_config = ConfigDict(extra="forbid", strict=True)
    eventId: int = PositiveId
    seatIds: list[SeatId] = Field(min_length=1, max_length=50)
    buyerName: str | None = Field(default=None, max_length=1000)
    buyerEmail: str | None = Field(default=None, max_length=1000)
    language: str | None = Field(default=None, max_length=20)  # of the mail: ko or en


class OrderLookupIn(BaseModel):
    """Find my order: the address the order was placed with and its reference."""

    model_config = ConfigDict(extra="forbid", strict=True)
    email: str = Field(max_length=1000)
    reference: str = Field(max_length=100)


class OrderItemOut(BaseModel):
    seatId: int
    label: str
    tier: str
    price: int
    currency: str
    refunded: bool


class OrderOut(BaseModel):
    orderId: int
    status: str
    eventId: int
    seatIds: list[int]
    createdAt: str | None
    total: int
    currency: str
    paymentDeadline: str | None
    closeReason: str | None = None
    items: list[OrderItemOut] = []


class AuthorizeIn(BaseModel):
    # Unknown fields are refused like in every other body: a typo (`orderID`) or a field a
    # client expects us to honour (`amount`) must not pass silently and start a charge.
    model_config = ConfigDict(extra="forbid", strict=True)
    orderId: int = PositiveId


class AuthorizeOut(BaseModel):
    orderId: int
    paymentId: int
    status: str
    traceId: str


class BuyerOut(BaseModel):
    buyerId: str
    token: str


class MyHoldOut(BaseModel):
    seatId: int
    expiresAt: str
    inOrder: bool


class BestAvailableIn(BaseModel):
    """ "N seats together": `tier` is a tier name (or id); none = any tier."""

    model_config = ConfigDict(extra="forbid", strict=True)
    eventId: int = PositiveId
    quantity: int = Field(default=1, ge=1, le=50)
    tier: str | None = Field(default=None, max_length=60)
    holdSeconds: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    admissionToken: str | None = Field(default=None, max_length=300)
    # "A wheelchair space and N companions": `quantity` is then ignored (1 + companions).
    wheelchair: bool = False
    companions: int = Field(default=0, ge=0, le=10)


class BestSeatOut(BaseModel):
    id: int
    label: str
    section: str
    r: int
    c: int
    tier: str
    price: int


class BestAvailableOut(BaseModel):
    eventId: int
    tier: str | None
    seatIds: list[int]
    seats: list[BestSeatOut]
    holdSeconds: int
    expiresAt: str
    traceId: str


class QueueOut(BaseModel):
    eventId: int
    status: str  # open | waiting | admitted | expired
    position: int | None
    peopleAhead: int
    estimatedWaitSeconds: int | None
    roomOn: bool
    admissionToken: str | None
    tokenExpiresAt: str | None
    admittedAt: str | None
    pollAfterMs: int


class QueueJoinIn(BaseModel):
    """The solved bot-check challenge (`GET /api/events/{id}/queue/challenge`): needed for a
    new place while the room is on and the event's difficulty is above 0."""

    model_config = ConfigDict(extra="forbid", strict=True)
    challenge: str = Field(min_length=1, max_length=300, description="as issued")
    counter: int = Field(ge=0, le=2**53 - 1, description=(
        "SHA-256(challenge as UTF-8 || counter as 8 bytes big-endian) starts with `difficulty` "
        "zero bits"))


class ChallengeOut(BaseModel):
    """A bot-check challenge, bound to the caller and the event, single use, short-lived.
    `difficulty` 0 means the event does not check: join without a solution."""

    eventId: int
    difficulty: int = Field(description="leading zero bits the hash must have; 0 = no check")
    algorithm: str = Field(description="sha256-leading-zero-bits")
    challenge: str | None
    expiresAt: str | None
