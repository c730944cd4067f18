from __future__ import annotations

import json
from datetime import timedelta

from sqlite_utils import Database

from app.crm.clock import iso, now
from app.crm.db import writing
from app.crm.errors import InvalidInput, NotFound
from app.crm.queries import next_id, require_owner
from app.crm.services import get_service_by_code

VALIDITY = timedelta(days=30)
MAX_ITEMS = 20
MAX_QUANTITY = 1000


def quote_number(quote_id: int) -> str:
    return f"QT-{quote_id:06d}"


def create_quote(
    db: Database, *, customer_id: int | None, items: list[dict], call_id: int | None = None
) -> dict:
    """A quote priced from the catalog: items are `{"service_code", "quantity"}`."""
    if not isinstance(items, list) or not items:
        raise InvalidInput("a quote needs at least one item")
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"a quote has at most {MAX_ITEMS} items")
    lines = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidInput("each item needs a service_code and a quantity")
        quantity = item.get("quantity", 1)
        if (
            isinstance(quantity, bool)
            or not isinstance(quantity, int)
            or not 1 <= quantity <= MAX_QUANTITY
        ):
            raise InvalidInput(f"quantity must be a whole number from 1 to {MAX_QUANTITY}")
        code = item.get("service_code")
        if not isinstance(code, str) or not code.strip():
            raise InvalidInput("each item needs a service_code from the catalog")
        service = get_service_by_code(db, code=code.strip())
        lines.append(
            {
                "service_code": service["code"],
                "name_en": service["name_en"],
                "name_ar": service["name_ar"],
                "unit": service["unit"],
                "unit_price": service["price"],
                "quantity": quantity,
                "amount": round(service["price"] * quantity, 2),
                "currency": service["currency"],
            }
        )
    currencies = {line["currency"] for line in lines}
    if len(currencies) != 1:
        raise InvalidInput("all items of a quote must share one currency")
    created = now()
    with writing(db):
        require_owner(db, customer_id=customer_id, call_id=call_id)
        quote_id = next_id(db, "quotes")
        db["quotes"].insert(
            {
                "id": quote_id,
                "number": quote_number(quote_id),
                "customer_id": customer_id,
                "call_id": call_id,
                "items": json.dumps(lines, ensure_ascii=False),
                "total": round(sum(line["amount"] for line in lines), 2),
                "currency": currencies.pop(),
                "valid_until": iso(created + VALIDITY),
                "created_at": iso(created),
            }
        )
    return get_quote(db, quote_id=quote_id)


def get_quote(db: Database, *, quote_id: int) -> dict:
    rows = list(db.query("SELECT * FROM quotes WHERE id = ?", [quote_id]))
    if not rows:
        raise NotFound(f"quote {quote_id} not found")
    return _public(rows[0])


def get_quote_by_number(db: Database, *, number: str, customer_id: int | None = None) -> dict:
    rows = list(db.query("SELECT * FROM quotes WHERE number = ?", [number.strip().upper()]))
    if not rows or (customer_id is not None and rows[0]["customer_id"] != customer_id):
        raise NotFound(f"quote {number} not found")
    return _public(rows[0])


def list_quotes(
    db: Database, *, customer_id: int | None = None, limit: int = 50, offset: int = 0
) -> list[dict]:
    if customer_id is None:
        rows = db.query("SELECT * FROM quotes ORDER BY id DESC LIMIT ? OFFSET ?", [limit, offset])
    else:
        rows = db.query(
            "SELECT * FROM quotes WHERE customer_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
            [customer_id, limit, offset],
        )
    return [_public(row) for row in rows]


def _public(row: dict) -> dict:
    return {**row, "items": json.loads(row["items"])}
