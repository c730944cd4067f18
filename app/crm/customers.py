from __future__ import annotations

from sqlite_utils import Database

from app.crm.clock import now_iso
from app.crm.db import writing
from app.crm.errors import InvalidInput, NotFound
from app.crm.fields import NAME_MAX, clean_email, clean_language, clean_text
from app.crm.phones import normalise_phone
from app.crm.queries import insert_row

EDITABLE = ("name", "phone", "email", "service_interest", "language", "notes")


def _clean(fields: dict, region: str) -> dict:
    clean: dict = {}
    for key, value in fields.items():
        if key not in EDITABLE:
            raise InvalidInput(f"unknown customer field {key!r}")
        if key == "name":
            clean[key] = clean_text(value, "name", max_length=NAME_MAX)
        elif key == "phone":
            clean[key] = None if value in (None, "") else normalise_phone(value, region)
        elif key == "email":
            clean[key] = clean_email(value)
        elif key == "language":
            clean[key] = None if value is None else clean_language(value)
        else:
            clean[key] = clean_text(value, key, required=False)
    return clean


def get_customer(db: Database, *, customer_id: int) -> dict:
    rows = list(db.query("SELECT * FROM customers WHERE id = ?", [customer_id]))
    if not rows:
        raise NotFound(f"customer {customer_id} not found")
    return rows[0]


def find_by_phone(db: Database, *, phone: str, region: str = "SA") -> dict | None:
    rows = list(
        db.query("SELECT * FROM customers WHERE phone = ?", [normalise_phone(phone, region)])
    )
    return rows[0] if rows else None


def list_customers(
    db: Database, *, search: str | None = None, limit: int = 50, offset: int = 0
) -> list[dict]:
    if search:
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql = (
            "SELECT * FROM customers WHERE name LIKE :q ESCAPE '\\' OR phone LIKE :q ESCAPE '\\'"
            " OR email LIKE :q ESCAPE '\\' ORDER BY id DESC LIMIT :limit OFFSET :offset"
        )
        return list(db.query(sql, {"q": like, "limit": limit, "offset": offset}))
    return list(
        db.query("SELECT * FROM customers ORDER BY id DESC LIMIT ? OFFSET ?", [limit, offset])
    )


def create_customer(db: Database, *, region: str = "SA", **fields: object) -> dict:
    clean = _clean(fields, region)
    if not clean.get("name") and not clean.get("phone"):
        raise InvalidInput("a customer needs a name or a phone number")
    stamp = now_iso()
    with writing(db):
        if clean.get("phone") and _phone_taken(db, clean["phone"]):
            raise InvalidInput("a customer with this phone number already exists")
        customer_id = insert_row(
            db, "customers", {**clean, "created_at": stamp, "updated_at": stamp}
        )
    return get_customer(db, customer_id=customer_id)


def update_customer(
    db: Database, *, customer_id: int, region: str = "SA", **fields: object
) -> dict:
    clean = _clean(fields, region)
    with writing(db):
        get_customer(db, customer_id=customer_id)
        if clean.get("phone") and _phone_taken(db, clean["phone"], other_than=customer_id):
            raise InvalidInput("another customer has this phone number")
        if clean:
            db["customers"].update(customer_id, {**clean, "updated_at": now_iso()})
    return get_customer(db, customer_id=customer_id)


def find_or_create_by_phone(
    db: Database, *, phone: str, name: str | None = None, region: str = "SA"
) -> dict:
    """The customer with this phone, created if new; a given name fills an empty one."""
    e164 = normalise_phone(phone, region)
    with writing(db):
        existing = find_by_phone(db, phone=e164, region=region)
        if existing is None:
            # A caller may give a phone without a name: create_customer refuses name=None.
            named = {"name": name} if name else {}
            return create_customer(db, region=region, phone=e164, **named)
        if name and not existing["name"]:
            return update_customer(db, customer_id=existing["id"], region=region, name=name)
        return existing


def _phone_taken(db: Database, phone: str, other_than: int | None = None) -> bool:
    rows = list(db.query("SELECT id FROM customers WHERE phone = ?", [phone]))
    return any(row["id"] != other_than for row in rows)
