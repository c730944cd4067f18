"""Request and response bodies (`XCreate`, `XUpdate`, `XPublic`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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


class CallStarted(BaseModel):
    call_id: int
    room: str
    livekit_url: str
    token: str
    language: Language
    department: Department


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
    price: float = Field(ge=0, le=10_000_000)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    unit: Literal["one-off", "month", "year", "hour"] = "one-off"
    active: bool = True


class ServiceUpdate(Body):
    code: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    name_en: str | None = Field(default=None, min_length=1, max_length=120)
    name_ar: str | None = Field(default=None, min_length=1, max_length=120)
    description_en: str | None = Field(default=None, max_length=2000)
    description_ar: str | None = Field(default=None, max_length=2000)
    price: float | None = Field(default=None, ge=0, le=10_000_000)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    unit: Literal["one-off", "month", "year", "hour"] | None = None
    active: bool | None = None


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
