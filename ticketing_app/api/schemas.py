"""Request and response bodies of the REST API (the original's field names)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

PositiveId = Field(ge=1, le=2**31 - 1)


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


class SeatOut(BaseModel):
    id: int
    r: int
    c: int
    price: int
    status: str
    section: str
    label: str
    tier: str


class SeatMapOut(BaseModel):
    eventId: int
    rows: int
    cols: int
    version: int
    currency: str
    seats: list[SeatOut]


class HoldIn(BaseModel):
    """The original's single `seatId`, or our `seatIds` (all-or-nothing)."""

    model_config = ConfigDict(extra="forbid")
    eventId: int = PositiveId
    seatId: int | None = Field(default=None, ge=1, le=2**31 - 1)
    seatIds: list[int] | None = Field(default=None, min_length=1, max_length=50)
    holdSeconds: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    admissionToken: str | None = Field(default=None, max_length=300)  # or X-Admission-Token

    @model_validator(mode="after")
    def _one_of(self) -> HoldIn:
        if (self.seatId is None) == (self.seatIds is None):
            raise ValueError("give exactly one of seatId or seatIds")
        if self.seatIds is not None and any(s < 1 or s > 2**31 - 1 for s in self.seatIds):
            raise ValueError("seat ids are positive integers")
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
    seconds: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)


class ExtendOut(BaseModel):
    expiresAt: str


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    eventId: int = PositiveId
    seatIds: list[int] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _ids(self) -> OrderIn:
        if any(s < 1 or s > 2**31 - 1 for s in self.seatIds):
            raise ValueError("seat ids are positive integers")
        return self


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

    model_config = ConfigDict(extra="forbid")
    eventId: int = PositiveId
    quantity: int = Field(ge=1, le=50)
    tier: str | None = Field(default=None, max_length=60)
    holdSeconds: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    admissionToken: str | None = Field(default=None, max_length=300)


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
