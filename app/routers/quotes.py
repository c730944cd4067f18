from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.crm import quotes
from app.deps import DbDep, OperatorDep
from app.routers.pagination import Limit, Offset

router = APIRouter(prefix="/api/quotes", tags=["quotes"], dependencies=[OperatorDep])


@router.get("")
def list_quotes(
    db: DbDep,
    customer_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[dict]:
    """List quotes, newest first, optionally one customer's."""
    return quotes.list_quotes(db, customer_id=customer_id, limit=limit, offset=offset)


@router.get("/{quote_id}")
def get_quote(quote_id: int, db: DbDep) -> dict:
    """One quote with its items."""
    return quotes.get_quote(db, quote_id=quote_id)
