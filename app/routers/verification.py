"""One-time codes a customer says in a call to prove who they are.

An operator issues one (the customer is in front of them, or on a call they trust), or the
company's own website does for its logged-in customer (its account page) with the trusted
backend's key. The code is shown once; the CRM keeps only a salted hash.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends

from app.auth import Actor, codes_issuer, record_change
from app.crm import identity
from app.crm.db import writing
from app.deps import DbDep
from app.routers.pagination import PathId
from app.schemas import VerificationCode, VerificationCodeCreate, error_responses

router = APIRouter(
    prefix="/api/customers",
    tags=["customers"],
    responses=error_responses(401, 404, 422),
)


@router.post("/{customer_id}/verification-code", status_code=201, response_model=VerificationCode)
def issue_verification_code(
    customer_id: PathId,
    body: VerificationCodeCreate,
    db: DbDep,
    actor: Annotated[Actor, Depends(codes_issuer)],
) -> dict:
    """A new one-time code for the customer to say in a call (`{}`, or `{"valid_minutes"}` up
    to 60; default 15; once; an earlier unused code stops working). Operator key or the
    trusted backend's X-Server-Key."""
    with writing(db):
        issued = identity.issue_code(
            db, customer_id=customer_id, valid_for=timedelta(minutes=body.valid_minutes)
        )
        record_change(
            db, actor, "code.issue", "customer", customer_id, valid_minutes=body.valid_minutes
        )
    return issued
