"""The CRM as the current caller may see it: their own record, tickets and quotes, never anyone
else's. These run on the call's CRM thread (`CallCrm.run`) and compose store functions."""

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
from app.crm.phones import normalise_phone

RECENT = 5
_ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


class NotTheCallersNumber(Exception):
    """The phone number is on another customer's record; nothing about it may be revealed."""


class NotTheVerifiedNumber(Exception):
    """The caller ID was verified; a record created on this call gets that number only."""


def save_caller(
    db: Database,
    *,
    call_id: int,
    customer_id: int | None,
    verified_phone: str | None,
    region: str,
    **fields: str,
) -> dict:
    """Update the verified caller's own record; or create it, for a caller whose number is
    verified by caller ID but not on record yet, and link it to the call.

    A number that already belongs to another record is refused without saying whose it is:
    a caller cannot take over a record by naming its phone number.
    """
    if fields.get("phone"):
        fields["phone"] = normalise_phone(fields["phone"], region)
        holder = crm_customers.find_by_phone(db, phone=fields["phone"], region=region)
        if holder is not None and holder["id"] != customer_id:
            raise NotTheCallersNumber()
    if customer_id is not None:
        return crm_customers.update_customer(db, customer_id=customer_id, region=region, **fields)
    if not verified_phone:
        raise PermissionError("only a verified caller's record may be created or changed")
    if fields.setdefault("phone", verified_phone) != verified_phone:
        raise NotTheVerifiedNumber()
    with writing(db):
        customer = crm_customers.create_customer(db, region=region, **fields)
        crm_identity.verify_call(
            db, call_id=call_id, customer_id=customer["id"], method="caller_id"
        )
    return customer


def record_number(raw: str, prefix: str) -> str | None:
    """'TKT-000012', 'tkt 12', '١٢' -> 'TKT-000012'; None when there are no digits."""
    digits = re.sub(r"\D", "", raw.translate(_ARABIC_DIGITS))
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
    db: Database, *, call_id: int, customer_id: int | None, description: str
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
        subject="Call back: the assistant could not finish the call",
        category="callback",
        priority="high",
        description=description,
    )
