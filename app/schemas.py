"""Request and response bodies (`XCreate`, `XUpdate`, `XPublic`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat

Language = Literal["ar", "en"]
Department = Literal["reception", "sales", "complaints"]
Name = Field(default=None, min_length=1, max_length=120)
Phone = Field(default=None, min_length=1, max_length=32)
MAX_ID = 2**63 - 1  # SQLite's INTEGER range


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CallCreate(Body):
    language: Language | None = None
    department: Department = "reception"
    name: str | None = Name
    phone: str | None = Phone
    customer_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    """Only with the trusted backend's `X-Server-Key`: the call is then verified as this
    customer."""


class CallLink(Body):
    customer_id: int = Field(ge=1, le=MAX_ID)


class CallStarted(BaseModel):
    call_id: int
    room: str
    livekit_url: str
    token: str
    language: Language
    department: Department
    identity_level: Literal["anonymous", "claimed", "verified"]


class SupervisionJoin(BaseModel):
    call_id: int
    room: str
    livekit_url: str
    token: str


class HandBack(Body):
    summary: str | None = Field(default=None, max_length=2000)
    """What the operator did and what the persona should know; empty: the transcript says."""


class CallbackPlaced(BaseModel):
    call_id: int
    room: str
    status: Literal["dialling"]


class VerificationCodeCreate(Body):
    valid_minutes: int = Field(default=15, ge=1, le=60)


class VerificationCode(BaseModel):
    customer_id: int
    code: str
    expires_at: str


class CustomerCreate(Body):
    name: str | None = Name
    phone: str | None = Phone
    email: str | None = Field(default=None, max_length=254)
    service_interest: str | None = Field(default=None, max_length=200)
    language: Language | None = None
    notes: str | None = Field(default=None, max_length=2000)


class CustomerUpdate(CustomerCreate):
    pass


class CustomerPublic(BaseModel):
    id: int
    phone: str | None
    name: str | None
    email: str | None
    service_interest: str | None
    language: str | None
    notes: str | None
    created_at: str
    updated_at: str


class TicketCreate(Body):
    customer_id: int = Field(ge=1, le=MAX_ID)
    subject: str = Field(min_length=1, max_length=200)
    category: Literal[
        "billing", "technical", "service", "delivery", "account", "callback", "other"
    ] = "other"
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    description: str = Field(default="", max_length=2000)
    call_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class TicketStatusChange(Body):
    status: Literal["open", "in_progress", "resolved", "closed"]
    note: str = Field(default="", max_length=2000)


class ServiceCreate(Body):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    name_en: str = Field(min_length=1, max_length=120)
    name_ar: str = Field(min_length=1, max_length=120)
    description_en: str = Field(default="", max_length=2000)
    description_ar: str = Field(default="", max_length=2000)
    price: StrictFloat = Field(ge=0, le=10_000_000)  # not true/false
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    unit: Literal["one-off", "month", "year", "hour"] = "one-off"
    active: StrictBool = True  # not 0/1 or "yes"


class ServiceUpdate(Body):
    code: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    name_en: str | None = Field(default=None, min_length=1, max_length=120)
    name_ar: str | None = Field(default=None, min_length=1, max_length=120)
    description_en: str | None = Field(default=None, max_length=2000)
    description_ar: str | None = Field(default=None, max_length=2000)
    price: StrictFloat | None = Field(default=None, ge=0, le=10_000_000)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    unit: Literal["one-off", "month", "year", "hour"] | None = None
    active: StrictBool | None = None


class ServicePublic(BaseModel):
    id: int
    code: str
    name_en: str
    name_ar: str
    description_en: str
    description_ar: str
    price: float
    currency: str
    unit: str
    active: bool
    is_sample: bool
    created_at: str
    updated_at: str


class PersonaPublic(BaseModel):
    key: str
    name: dict[str, str]
    department: dict[str, str]
    tone: str
    transfers_to: list[str]


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # 422 adds `details`, /readyz adds `checks`

    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every error the API answers: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


_ERROR_DESCRIPTIONS = {
    400: "Malformed request body",
    401: "Missing or wrong key",
    403: "Refused",
    404: "No such record",
    409: "Conflicts with the record's state",
    422: "Invalid input",
    429: "Rate limited (see `Retry-After`)",
    503: "Not ready",
    502: "LiveKit refused or did not answer",
}


_ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}},
}


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI `responses=` documenting these error statuses with the JSON error body."""
    return {
        status: {
            "model": ErrorResponse,
            "description": _ERROR_DESCRIPTIONS[status],
            **({"headers": _ERROR_HEADERS[status]} if status in _ERROR_HEADERS else {}),
        }
        for status in statuses
    }
