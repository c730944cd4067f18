"""Who a caller is proven to be: identity levels on calls, one-time verification codes and the
limits on guessing them, and an operator's link of an unverified call to a customer.

A call is `verified` (caller ID on a trusted trunk, a call token a trusted backend asked for,
or a one-time code given in the call), `claimed` (a name or number typed or said) or
`anonymous`. Only a verified call carries a `customer_id` of its own proving; a claimed one
keeps what the caller said on the call row until an operator links it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlite_utils import Database

from app.crm.calls import METHODS, add_event, get_call
from app.crm.clock import iso, now, now_iso
from app.crm.customers import find_by_phone, get_customer
from app.crm.db import writing
from app.crm.errors import Conflict, InvalidInput
from app.crm.phones import ARABIC_DIGITS, normalise_phone
from app.crm.queries import require

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=15)
MAX_ATTEMPTS_PER_CALL = 3
"""Failed attempts one call may make; then verification stays locked for the rest of it."""
MAX_FAILURES_PER_RECORD = 5
RECORD_LOCK_WINDOW = timedelta(hours=1)
"""A record with this many failed attempts (from any calls) in the window is locked until the
window has passed since the last of them: an attacker who redials gains nothing."""


class AlreadyLinked(Conflict):
    """The call is already linked to a customer."""


@dataclass(frozen=True)
class Verification:
    result: str
    """`verified`, `wrong` (attempts left) or `locked` (for this call or this record)."""
    customer_id: int | None = None
    attempts_left: int = 0


SCRYPT = {"n": 2**14, "r": 8, "p": 1}
"""A memory-hard hash (16 MiB, tens of ms): six digits are a million guesses, which against a
fast hash anyone holding a copy of the CRM would run in a second, against this in hours, long
after the code expired."""


def _hash(code: str, salt: str) -> str:
    return hashlib.scrypt(code.encode(), salt=bytes.fromhex(salt), **SCRYPT).hex()


def _digits(code: str) -> str:
    return "".join(ch for ch in code.translate(ARABIC_DIGITS) if ch.isdigit())


def issue_code(db: Database, *, customer_id: int, valid_for: timedelta = CODE_TTL) -> dict:
    """A new one-time code for a customer to say in a call; earlier unused codes stop working.
    The code itself is returned once and stored only as a salted hash."""
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    salt = secrets.token_hex(8)
    created = now()
    with writing(db):
        require(db, "customers", customer_id, "customer")
        _expire_codes(db, customer_id)
        db.execute(
            "INSERT INTO verification_codes (customer_id, code_hash, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            [customer_id, f"{salt}${_hash(code, salt)}", iso(created), iso(created + valid_for)],
        )
    return {"customer_id": customer_id, "code": code, "expires_at": iso(created + valid_for)}


def attempts_left(db: Database, *, call_id: int) -> int:
    failed = db.execute(
        "SELECT COUNT(*) FROM verification_attempts WHERE call_id = ? AND ok = 0", [call_id]
    ).fetchone()[0]
    return max(0, MAX_ATTEMPTS_PER_CALL - failed)


def record_locked(db: Database, *, customer_id: int) -> bool:
    since = iso(now() - RECORD_LOCK_WINDOW)
    failed = db.execute(
        "SELECT COUNT(*) FROM verification_attempts WHERE customer_id = ? AND ok = 0 AND at > ?",
        [customer_id, since],
    ).fetchone()[0]
    return failed >= MAX_FAILURES_PER_RECORD


def verify_code(db: Database, *, call_id: int, phone: str, code: str, region: str) -> Verification:
    """Check a code said in a call against the record of the number the caller gives.

    Every attempt is recorded (never the code or the number). A locked record answers like a
    wrong code, and an unknown or malformed number like a known one, so the answers never tell
    whether a number is on record. Once the call has used up its attempts even the right code
    is refused, and the codes of every record it tried stop working: a code said on a failed
    call (and so in its transcript) is spent."""
    with writing(db):
        if attempts_left(db, call_id=call_id) == 0:
            add_event(db, call_id=call_id, kind="verification_attempt", result="locked")
            return Verification(result="locked")
        try:
            customer = find_by_phone(db, phone=phone, region=region)
        except InvalidInput:
            customer = None
        customer_id = customer["id"] if customer else None
        match = None
        if customer_id is not None and not record_locked(db, customer_id=customer_id):
            match = _matching_code(db, customer_id, _digits(code))
        if match is None:
            _attempt(db, call_id, customer_id, ok=False)
            left = attempts_left(db, call_id=call_id)
            if left == 0:
                _expire_codes_tried_by(db, call_id)
            elif customer_id is not None and record_locked(db, customer_id=customer_id):
                _expire_codes(db, customer_id)
            return Verification(result="wrong" if left else "locked", attempts_left=left)
        db.execute(
            "UPDATE verification_codes SET used_at = ?, used_by_call_id = ? WHERE id = ?",
            [now_iso(), call_id, match],
        )
        _attempt(db, call_id, customer_id, ok=True)
        verify_call(db, call_id=call_id, customer_id=customer_id, method="in_call_code")
    return Verification(result="verified", customer_id=customer_id)


def _expire_codes(db: Database, customer_id: int) -> None:
    stamp = now_iso()
    db.execute(
        "UPDATE verification_codes SET expires_at = ? WHERE customer_id = ? AND used_at IS NULL"
        " AND expires_at > ?",
        [stamp, customer_id, stamp],
    )


def _expire_codes_tried_by(db: Database, call_id: int) -> None:
    rows = db.execute(
        "SELECT DISTINCT customer_id FROM verification_attempts WHERE call_id = ?"
        " AND customer_id IS NOT NULL",
        [call_id],
    ).fetchall()
    for (customer_id,) in rows:
        _expire_codes(db, customer_id)


def _matching_code(db: Database, customer_id: int, digits: str) -> int | None:
    if len(digits) != CODE_DIGITS:
        return None
    rows = db.execute(
        "SELECT id, code_hash FROM verification_codes WHERE customer_id = ? AND used_at IS NULL"
        " AND expires_at > ?",
        [customer_id, now_iso()],
    ).fetchall()
    for code_id, stored in rows:
        salt, _, digest = stored.partition("$")
        if hmac.compare_digest(digest, _hash(digits, salt)):
            return code_id
    return None


def _attempt(db: Database, call_id: int, customer_id: int | None, *, ok: bool) -> None:
    db.execute(
        "INSERT INTO verification_attempts (call_id, customer_id, at, ok) VALUES (?, ?, ?, ?)",
        [call_id, customer_id, now_iso(), int(ok)],
    )
    # the event names no number and no code: what was tried is nobody's business in the CRM
    add_event(
        db, call_id=call_id, kind="verification_attempt", result="verified" if ok else "wrong"
    )


def verify_call(db: Database, *, call_id: int, customer_id: int, method: str) -> dict:
    """Mark a call verified as this customer; what the caller opened on it before proving who
    they are (tickets, quotes, follow-ups without a customer) becomes theirs."""
    if method not in METHODS:
        raise InvalidInput(f"method must be one of {', '.join(METHODS)}")
    stamp = now_iso()
    with writing(db):
        require(db, "customers", customer_id, "customer")
        call = get_call(db, call_id=call_id)
        if call["identity_level"] == "verified" and call["customer_id"] not in (None, customer_id):
            raise AlreadyLinked(f"call {call_id} is verified as another customer")
        if call["customer_id"] not in (None, customer_id):
            # an operator had linked the call to someone else: the proof wins, and they see it
            add_event(
                db,
                call_id=call_id,
                kind="identity_conflict",
                linked_customer_id=call["customer_id"],
                verified_customer_id=customer_id,
            )
        db.execute(
            "UPDATE calls SET identity_level = 'verified', identity_method = ?, identity_at = ?,"
            " customer_id = ? WHERE id = ?",
            [method, stamp, customer_id, call_id],
        )
        _attach_call_items(db, call_id=call_id, customer_id=customer_id)
        add_event(db, call_id=call_id, kind="identity_verified", method=method)
    return get_call(db, call_id=call_id)


def link_call(db: Database, *, call_id: int, customer_id: int) -> dict:
    """An operator's link of an unverified call, with the tickets, quotes and follow-ups opened
    on it, to a customer. The call's identity level stays what the caller proved. Linking it to
    the same customer again picks up what the caller opened since; another customer is a
    conflict. A call verified by caller ID without a record links only to the record of the
    number it proved."""
    with writing(db):
        customer = get_customer(db, customer_id=customer_id)
        call = get_call(db, call_id=call_id)
        if call["customer_id"] not in (None, customer_id):
            raise AlreadyLinked(
                f"call {call_id} is already linked to customer {call['customer_id']}"
            )
        if call["identity_level"] == "verified" and customer["phone"] != call["caller_phone"]:
            raise AlreadyLinked(
                f"call {call_id} is verified by its caller's number; it links only to that record"
            )
        stamp = now_iso()
        db.execute(
            "UPDATE calls SET customer_id = ?, linked_at = COALESCE(linked_at, ?) WHERE id = ?",
            [customer_id, stamp, call_id],
        )
        moved = _attach_call_items(db, call_id=call_id, customer_id=customer_id)
        add_event(
            db, call_id=call_id, kind="linked", customer_id=customer_id, by="operator", **moved
        )
    return get_call(db, call_id=call_id)


def _attach_call_items(db: Database, *, call_id: int, customer_id: int) -> dict[str, int]:
    moved = {}
    for table in ("tickets", "quotes", "follow_ups"):
        cursor = db.execute(
            f"UPDATE {table} SET customer_id = ? WHERE call_id = ? AND customer_id IS NULL",
            [customer_id, call_id],
        )
        moved[table] = cursor.rowcount
    return moved


def has_called_before(db: Database, *, customer_id: int, call_id: int) -> bool:
    """Whether the customer had an answered, verified call before this one ("welcome back"):
    a call an operator linked on a claim is not proof that they called."""
    row = db.execute(
        "SELECT 1 FROM calls WHERE customer_id = ? AND id < ? AND agent_joined_at IS NOT NULL"
        " AND identity_level = 'verified' LIMIT 1",
        [customer_id, call_id],
    ).fetchone()
    return row is not None


def list_unlinked(db: Database, *, limit: int = 50, offset: int = 0) -> list[dict]:
    """Calls without a customer that left tickets, quotes or follow-ups behind, newest first,
    each with what the caller claimed and those items: an operator's work list for linking."""
    calls = list(
        db.query(
            "SELECT id, created_at, identity_level, identity_method, caller_name, caller_phone,"
            " caller_email, caller_interest, language, department FROM calls c"
            " WHERE ("
            " EXISTS (SELECT 1 FROM tickets t WHERE t.call_id = c.id AND t.customer_id IS NULL)"
            " OR EXISTS (SELECT 1 FROM quotes q WHERE q.call_id = c.id AND q.customer_id IS NULL)"
            " OR EXISTS (SELECT 1 FROM follow_ups f WHERE f.call_id = c.id"
            " AND f.customer_id IS NULL)) ORDER BY id DESC LIMIT ? OFFSET ?",
            [limit, offset],
        )
    )
    for call in calls:
        for table in ("tickets", "quotes", "follow_ups"):
            call[table] = list(
                db.query(
                    f"SELECT * FROM {table} WHERE call_id = ? AND customer_id IS NULL ORDER BY id",
                    [call["id"]],
                )
            )
        for quote in call["quotes"]:
            quote["items"] = json.loads(quote["items"])
    return calls


def mark_caller_id(db: Database, *, call_id: int, phone: str, region: str) -> dict:
    """A phone call whose caller ID a trusted trunk vouches for: the number is proven, and so
    is the customer whose record has it (if any)."""
    e164 = normalise_phone(phone, region)
    with writing(db):
        db.execute(
            "UPDATE calls SET caller_phone = ?, identity_level = 'verified',"
            " identity_method = 'caller_id', identity_at = ? WHERE id = ?",
            [e164, now_iso(), call_id],
        )
        customer = find_by_phone(db, phone=e164, region=region)
        if customer is not None:
            verify_call(db, call_id=call_id, customer_id=customer["id"], method="caller_id")
        else:
            add_event(db, call_id=call_id, kind="identity_verified", method="caller_id")
    return get_call(db, call_id=call_id)
