from __future__ import annotations

import re

from sqlite_utils import Database

from app.crm.clock import now_iso
from app.crm.db import writing
from app.crm.errors import InvalidInput, NotFound
from app.crm.fields import NAME_MAX, clean_choice, clean_text

UNITS = ("one-off", "month", "year", "hour")
FIELDS = (
    "code",
    "name_en",
    "name_ar",
    "description_en",
    "description_ar",
    "price",
    "currency",
    "unit",
    "active",
)
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _clean(fields: dict, *, partial: bool) -> dict:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise InvalidInput(f"unknown service fields: {', '.join(sorted(unknown))}")
    clean: dict = {}
    for key, value in fields.items():
        if key == "code":
            if not isinstance(value, str) or not _CODE.match(value):
                raise InvalidInput("code must be lowercase letters, digits and dashes")
            clean[key] = value
        elif key in ("name_en", "name_ar"):
            clean[key] = clean_text(value, key, max_length=NAME_MAX)
        elif key in ("description_en", "description_ar"):
            clean[key] = clean_text(value, key, required=False) or ""
        elif key == "price":
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 <= value <= 10_000_000
            ):
                raise InvalidInput("price must be a number between 0 and 10,000,000")
            clean[key] = round(float(value), 2)
        elif key == "currency":
            if not isinstance(value, str) or not _CURRENCY.match(value):
                raise InvalidInput("currency must be a three-letter ISO code such as USD")
            clean[key] = value
        elif key == "unit":
            clean[key] = clean_choice(value, "unit", UNITS)
        elif key == "active":
            clean[key] = int(bool(value))
    if not partial:
        for required in ("code", "name_en", "name_ar", "price", "currency", "unit"):
            if required not in clean:
                raise InvalidInput(f"{required} is required")
    return clean


def get_service(db: Database, *, service_id: int) -> dict:
    rows = list(db.query("SELECT * FROM services WHERE id = ?", [service_id]))
    if not rows:
        raise NotFound(f"service {service_id} not found")
    return _public(rows[0])


def get_service_by_code(db: Database, *, code: str) -> dict:
    rows = list(db.query("SELECT * FROM services WHERE code = ? AND active = 1", [code]))
    if not rows:
        raise NotFound(f"service {code!r} not found in the catalog")
    return _public(rows[0])


def list_services(db: Database, *, active_only: bool = False) -> list[dict]:
    sql = "SELECT * FROM services" + (" WHERE active = 1" if active_only else "") + " ORDER BY id"
    return [_public(row) for row in db.query(sql)]


def create_service(db: Database, **fields: object) -> dict:
    clean = _clean(fields, partial=False)
    stamp = now_iso()
    with writing(db):
        if list(db.query("SELECT 1 FROM services WHERE code = ?", [clean["code"]])):
            raise InvalidInput(f"a service with code {clean['code']!r} already exists")
        table = db["services"]
        table.insert(
            {"active": 1, **clean, "is_sample": 0, "created_at": stamp, "updated_at": stamp}
        )
        service_id = table.last_pk
    return get_service(db, service_id=service_id)


def update_service(db: Database, *, service_id: int, **fields: object) -> dict:
    clean = _clean(fields, partial=True)
    with writing(db):
        get_service(db, service_id=service_id)
        if "code" in clean and list(
            db.query(
                "SELECT 1 FROM services WHERE code = ? AND id != ?", [clean["code"], service_id]
            )
        ):
            raise InvalidInput(f"a service with code {clean['code']!r} already exists")
        if clean:
            db["services"].update(service_id, {**clean, "is_sample": 0, "updated_at": now_iso()})
    return get_service(db, service_id=service_id)


def delete_service(db: Database, *, service_id: int) -> None:
    """Quotes keep their own copy of items, so a service can go without breaking them."""
    with writing(db):
        get_service(db, service_id=service_id)
        db.execute("DELETE FROM services WHERE id = ?", [service_id])


def replace_catalog(db: Database, *, services: list[dict]) -> list[dict]:
    """Swap the whole catalog (the sample one included) for the operator's own."""
    cleaned = [_clean(service, partial=False) for service in services]
    codes = [service["code"] for service in cleaned]
    if len(set(codes)) != len(codes):
        raise InvalidInput("service codes must be unique")
    stamp = now_iso()
    with writing(db):
        db.execute("DELETE FROM services")
        for service in cleaned:
            db["services"].insert(
                {"active": 1, **service, "is_sample": 0, "created_at": stamp, "updated_at": stamp}
            )
    return list_services(db)


def _public(row: dict) -> dict:
    return {**row, "active": bool(row["active"]), "is_sample": bool(row["is_sample"])}
