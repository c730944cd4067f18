from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from app.crm.clock import iso, now
from app.crm.db import writing
from app.crm.errors import InvalidInput, NotFound
from app.crm.fields import clean_text
from app.crm.queries import require_owner


def schedule_follow_up(
    db: Database,
    *,
    customer_id: int | None,
    due_at: datetime,
    note: str = "",
    call_id: int | None = None,
) -> dict:
    if due_at.tzinfo is None:
        raise InvalidInput("due time needs a time zone")
    if due_at <= now():
        raise InvalidInput("a follow-up must be in the future")
    row = {
        "customer_id": customer_id,
        "call_id": call_id,
        "due_at": iso(due_at),
        "note": clean_text(note, "note", required=False) or "",
        "created_at": iso(now()),
    }
    with writing(db):
        require_owner(db, customer_id=customer_id, call_id=call_id)
        table = db["follow_ups"]
        table.insert(row)
        row["id"] = table.last_pk
    return row


def list_follow_ups(db: Database, *, customer_id: int) -> list[dict]:
    return list(
        db.query("SELECT * FROM follow_ups WHERE customer_id = ? ORDER BY due_at", [customer_id])
    )


def get_follow_up(db: Database, *, follow_up_id: int) -> dict:
    rows = list(db.query("SELECT * FROM follow_ups WHERE id = ?", [follow_up_id]))
    if not rows:
        raise NotFound(f"follow-up {follow_up_id} not found")
    return rows[0]
