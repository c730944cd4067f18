from __future__ import annotations

from datetime import timedelta

from sqlite_utils import Database

from app.crm.clock import iso, now
from app.crm.db import writing
from app.crm.errors import NotFound
from app.crm.fields import clean_choice, clean_text
from app.crm.queries import newest_first, next_id, require_owner

CATEGORIES = ("billing", "technical", "service", "delivery", "account", "callback", "other")
PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("open", "in_progress", "resolved", "closed")
SLA = {
    "urgent": timedelta(hours=4),
    "high": timedelta(hours=24),
    "normal": timedelta(hours=72),
    "low": timedelta(days=7),
}


def ticket_number(ticket_id: int) -> str:
    return f"TKT-{ticket_id:06d}"


def open_ticket(
    db: Database,
    *,
    customer_id: int | None,
    subject: str,
    category: str = "other",
    priority: str = "normal",
    description: str = "",
    call_id: int | None = None,
) -> dict:
    category = clean_choice(category, "category", CATEGORIES)
    priority = clean_choice(priority, "priority", PRIORITIES)
    subject = clean_text(subject, "subject", max_length=200)
    description = clean_text(description, "description", required=False) or ""
    created = now()
    with writing(db):
        require_owner(db, customer_id=customer_id, call_id=call_id)
        ticket_id = next_id(db, "tickets")
        db["tickets"].insert(
            {
                "id": ticket_id,
                "number": ticket_number(ticket_id),
                "customer_id": customer_id,
                "call_id": call_id,
                "category": category,
                "priority": priority,
                "status": "open",
                "subject": subject,
                "description": description,
                "sla_due_at": iso(created + SLA[priority]),
                "created_at": iso(created),
                "updated_at": iso(created),
            }
        )
        db["ticket_status_changes"].insert(
            {"ticket_id": ticket_id, "at": iso(created), "from_status": None, "to_status": "open"}
        )
    return get_ticket(db, ticket_id=ticket_id)


def get_ticket(db: Database, *, ticket_id: int) -> dict:
    rows = list(db.query("SELECT * FROM tickets WHERE id = ?", [ticket_id]))
    if not rows:
        raise NotFound(f"ticket {ticket_id} not found")
    ticket = rows[0]
    ticket["history"] = list(
        db.query(
            "SELECT at, from_status, to_status, note FROM ticket_status_changes"
            " WHERE ticket_id = ? ORDER BY id",
            [ticket_id],
        )
    )
    return ticket


def get_ticket_by_number(db: Database, *, number: str, customer_id: int | None = None) -> dict:
    """A ticket by its number; with `customer_id`, only if it is that customer's."""
    rows = list(
        db.query("SELECT id, customer_id FROM tickets WHERE number = ?", [number.strip().upper()])
    )
    if not rows or (customer_id is not None and rows[0]["customer_id"] != customer_id):
        raise NotFound(f"ticket {number} not found")
    return get_ticket(db, ticket_id=rows[0]["id"])


def list_tickets(
    db: Database,
    *,
    customer_id: int | None = None,
    status: str | None = None,
    priority: str | None = None,
    category: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict]:
    return newest_first(
        db,
        "tickets",
        equal={
            "customer_id": customer_id,
            "status": status,
            "priority": priority,
            "category": category,
        },
        limit=limit,
        offset=offset,
    )


def change_status(db: Database, *, ticket_id: int, status: str, note: str = "") -> dict:
    status = clean_choice(status, "status", STATUSES)
    note = clean_text(note, "note", required=False) or ""
    with writing(db):
        current = get_ticket(db, ticket_id=ticket_id)["status"]
        if current != status:
            stamp = iso(now())
            db.execute(
                "UPDATE tickets SET status = ?, updated_at = ? WHERE id = ?",
                [status, stamp, ticket_id],
            )
            db["ticket_status_changes"].insert(
                {
                    "ticket_id": ticket_id,
                    "at": stamp,
                    "from_status": current,
                    "to_status": status,
                    "note": note,
                }
            )
    return get_ticket(db, ticket_id=ticket_id)
