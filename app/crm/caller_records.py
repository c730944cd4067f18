"""The CRM as the current caller may see it: their own record, tickets and quotes, never anyone
else's. They compose store functions; a call runs them through its CRM (`CallCrm.run`), in
its own process or through the API (app.crm.worker_operations)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlite_utils import Database

from app.crm import NotFound
from app.crm import calls as crm_calls
from app.crm import customers as crm_customers
from app.crm import follow_ups as crm_follow_ups
from app.crm import identity as crm_identity
from app.crm import quotes as crm_quotes
from app.crm import tickets as crm_tickets
from app.crm.clock import now
from app.crm.db import writing
from app.crm.phones import ARABIC_DIGITS, normalise_phone

RECENT = 5


def save_caller(
    db: Database,
    *,
    call_id: int,
    customer_id: int | None,
    verified_phone: str | None,
    region: str,
    **fields: str,
) -> tuple[dict, bool]:
    """Update the verified caller's own record; or create it, for a caller whose number is
    verified by caller ID but not on record yet, and link it to the call. Returns the record
    and whether a phone number was only noted.

    The phone number is the caller's proof, so a caller never changes it by voice: a new number
    is noted on the call (a `contact_change_requested` event) for our team to confirm, whatever
    the number, so the answer never tells whether it is someone else's."""
    noted = False
    requested = fields.pop("phone", None)
    with writing(db):
        current = (
            crm_customers.get_customer(db, customer_id=customer_id)["phone"]
            if customer_id is not None
            else verified_phone
        )
        if requested and normalise_phone(requested, region) != current:
            crm_calls.add_event(
                db,
                call_id=call_id,
                kind="contact_change_requested",
                phone=normalise_phone(requested, region),
            )
            noted = True
        if customer_id is not None:
            customer = crm_customers.update_customer(
                db, customer_id=customer_id, region=region, **fields
            )
            return customer, noted
        if not verified_phone:
            raise PermissionError("only a verified caller's record may be created or changed")
        customer = crm_customers.create_customer(db, region=region, phone=verified_phone, **fields)
        crm_identity.verify_call(
            db, call_id=call_id, customer_id=customer["id"], method="caller_id"
        )
    return customer, noted


def record_number(raw: str, prefix: str) -> str | None:
    """'TKT-000012', 'tkt 12', '١٢' -> 'TKT-000012'; None when there are no digits."""
    digits = re.sub(r"\D", "", raw.translate(ARABIC_DIGITS))
    if not digits or len(digits) > 9:
        return None
    return f"{prefix}-{int(digits):06d}"


def own_tickets(db: Database, *, customer_id: int, number: str | None = None) -> list[dict]:
    if number is None:
        return crm_tickets.list_tickets(db, customer_id=customer_id, limit=RECENT)
    try:
        return [crm_tickets.get_ticket_by_number(db, number=number, customer_id=customer_id)]
    except NotFound:
        return []


def own_quotes(db: Database, *, customer_id: int, number: str | None = None) -> list[dict]:
    if number is None:
        return crm_quotes.list_quotes(db, customer_id=customer_id, limit=RECENT)
    try:
        return [crm_quotes.get_quote_by_number(db, number=number, customer_id=customer_id)]
    except NotFound:
        return []


def schedule_follow_up(
    db: Database, *, customer_id: int, call_id: int, days_from_now: int, note: str
) -> dict:
    return crm_follow_ups.schedule_follow_up(
        db,
        customer_id=customer_id,
        call_id=call_id,
        due_at=now() + timedelta(days=days_from_now),
        note=note,
    )


def open_callback_ticket(
    db: Database,
    *,
    call_id: int,
    customer_id: int | None,
    description: str,
    subject: str = "Call back: the assistant could not finish the call",
) -> dict | None:
    """A callback ticket for a call the agent could not finish: on the verified caller's
    record, or on the call (for an operator to link) when the caller left a number to call;
    None when there is nobody to call back."""
    if customer_id is None and not crm_calls.get_call(db, call_id=call_id)["caller_phone"]:
        return None
    return crm_tickets.open_ticket(
        db,
        customer_id=customer_id,
        call_id=call_id,
        subject=subject,
        category="callback",
        priority="high",
        description=description,
    )
