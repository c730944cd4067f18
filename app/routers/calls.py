from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.auth import Can, OperatorDep, record_change
from app.crm import calls, identity
from app.crm.db import writing
from app.deps import DbDep
from app.routers.pagination import Limit, Offset, PathId, QueryId
from app.schemas import CallLink, error_responses

router = APIRouter(
    prefix="/api/calls",
    tags=["calls"],
    dependencies=[OperatorDep],
    responses=error_responses(401, 404, 409, 422),
)

Timestamp = Annotated[str | None, Query(max_length=40, pattern=r"^\d{4}-\d{2}-\d{2}[0-9T:.Z+-]*$")]


@router.get("")
def list_calls(
    db: DbDep,
    status: Literal["created", "active", "ended"] | None = None,
    department: Literal["reception", "sales", "complaints"] | None = None,
    language: Literal["ar", "en"] | None = None,
    customer_id: QueryId = None,
    identity_level: Literal["anonymous", "claimed", "verified"] | None = None,
    channel: Literal["web", "phone"] | None = None,
    since: Timestamp = None,
    until: Timestamp = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[dict]:
    """List calls, newest first, filtered by status, department, language, customer, caller
    identity level, channel (web or phone) or date."""
    return calls.list_calls(
        db,
        status=status,
        department=department,
        language=language,
        customer_id=customer_id,
        identity_level=identity_level,
        channel=channel,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )


@router.get("/unlinked")
def list_unlinked_calls(db: DbDep, limit: Limit = 50, offset: Offset = 0) -> list[dict]:
    """Calls of unverified callers that left tickets, quotes or follow-ups, with what the
    caller claimed: the operator links each to a customer."""
    return identity.list_unlinked(db, limit=limit, offset=offset)


@router.get("/live")
def list_live_calls(db: DbDep) -> list[dict]:
    """The calls in progress now: persona speaking (or the operator who took over), language,
    identity level, the last caption and the transfers so far."""
    return calls.live_calls(db)


@router.get("/{call_id}")
def get_call(call_id: PathId, db: DbDep) -> dict:
    """One call with its transcript and events."""
    return calls.get_call_detail(db, call_id=call_id)


@router.post("/{call_id}/link")
def link_call(call_id: PathId, body: CallLink, db: DbDep, actor: Can("calls.link")) -> dict:
    """Link an unverified call, with the tickets, quotes and follow-ups opened on it, to a
    customer (recorded as a `linked` event); 409 if the call already has a customer."""
    with writing(db):
        call = identity.link_call(db, call_id=call_id, customer_id=body.customer_id)
        record_change(db, actor, "call.link", "call", call_id, customer_id=body.customer_id)
    return call
