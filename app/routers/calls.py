from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.crm import calls
from app.deps import DbDep, OperatorDep
from app.routers.pagination import Limit, Offset, PathId, QueryId
from app.schemas import error_responses

router = APIRouter(
    prefix="/api/calls",
    tags=["calls"],
    dependencies=[OperatorDep],
    responses=error_responses(401, 404, 422),
)

Timestamp = Annotated[str | None, Query(max_length=40, pattern=r"^\d{4}-\d{2}-\d{2}[0-9T:.Z+-]*$")]


@router.get("")
def list_calls(
    db: DbDep,
    status: Literal["created", "active", "ended"] | None = None,
    department: Literal["reception", "sales", "complaints"] | None = None,
    language: Literal["ar", "en"] | None = None,
    customer_id: QueryId = None,
    since: Timestamp = None,
    until: Timestamp = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[dict]:
    """List calls, newest first, filtered by status, department, language, customer or date."""
    return calls.list_calls(
        db,
        status=status,
        department=department,
        language=language,
        customer_id=customer_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )


@router.get("/{call_id}")
def get_call(call_id: PathId, db: DbDep) -> dict:
    """One call with its transcript and events."""
    return calls.get_call_detail(db, call_id=call_id)
