from __future__ import annotations

from fastapi import APIRouter

from app.auth import OperatorDep
from app.crm import quotes
from app.deps import DbDep
from app.routers.pagination import Limit, Offset, PathId, QueryId
from app.schemas import error_responses

router = APIRouter(
    prefix="/api/quotes",
    tags=["quotes"],
    dependencies=[OperatorDep],
    responses=error_responses(401, 404, 422),
)


@router.get("")
def list_quotes(
    db: DbDep,
    customer_id: QueryId = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[dict]:
    """List quotes, newest first, optionally one customer's."""
    return quotes.list_quotes(db, customer_id=customer_id, limit=limit, offset=offset)


@router.get("/{quote_id}")
def get_quote(quote_id: PathId, db: DbDep) -> dict:
    """One quote with its items."""
    return quotes.get_quote(db, quote_id=quote_id)
