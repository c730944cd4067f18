from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from app.auth import Can, OperatorDep, record_change
from app.crm import calls, customers, follow_ups, quotes, tickets
from app.crm.db import writing
from app.deps import DbDep, SettingsDep
from app.routers.pagination import Limit, Offset, PathId
from app.schemas import CustomerCreate, CustomerPublic, CustomerUpdate, error_responses

router = APIRouter(
    prefix="/api/customers",
    tags=["customers"],
    dependencies=[OperatorDep],
    responses=error_responses(400, 401, 404, 422),
)


@router.get("", response_model=list[CustomerPublic])
def list_customers(
    db: DbDep,
    search: Annotated[str | None, Query(max_length=120)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[dict]:
    """List customers, newest first; `search` matches name, phone or email."""
    return customers.list_customers(db, search=search, limit=limit, offset=offset)


@router.get("/lookup", response_model=CustomerPublic)
def lookup_customer(
    db: DbDep, settings: SettingsDep, phone: Annotated[str, Query(min_length=1, max_length=32)]
) -> dict:
    """Find the customer with this phone number (any common format)."""
    customer = customers.find_by_phone(db, phone=phone, region=settings.phone_default_region)
    if customer is None:
        raise HTTPException(404, "no customer with this phone number")
    return customer


@router.get("/{customer_id}")
def get_customer(customer_id: PathId, db: DbDep) -> dict:
    """One customer with their calls, tickets, quotes and follow-ups."""
    customer = customers.get_customer(db, customer_id=customer_id)
    customer["calls"] = calls.list_calls(db, customer_id=customer_id, limit=100)
    customer["tickets"] = tickets.list_tickets(db, customer_id=customer_id, limit=100)
    customer["quotes"] = quotes.list_quotes(db, customer_id=customer_id, limit=100)
    customer["follow_ups"] = follow_ups.list_follow_ups(db, customer_id=customer_id)
    return customer


@router.post("", status_code=201, response_model=CustomerPublic)
def create_customer(
    body: CustomerCreate, db: DbDep, settings: SettingsDep, actor: Can("customers.write")
) -> dict:
    """Create a customer; the phone number is stored in E.164 and must be unique."""
    fields = body.model_dump(exclude_none=True)
    with writing(db):
        customer = customers.create_customer(db, region=settings.phone_default_region, **fields)
        record_change(db, actor, "customer.create", "customer", customer["id"], changes=fields)
    return customer


@router.patch("/{customer_id}", response_model=CustomerPublic)
def update_customer(
    customer_id: PathId,
    body: CustomerUpdate,
    db: DbDep,
    settings: SettingsDep,
    actor: Can("customers.write"),
) -> dict:
    """Change some of a customer's fields."""
    fields = body.model_dump(exclude_unset=True)
    with writing(db):
        customer = customers.update_customer(
            db, customer_id=customer_id, region=settings.phone_default_region, **fields
        )
        record_change(db, actor, "customer.update", "customer", customer_id, changes=fields)
    return customer
