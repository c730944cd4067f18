"""Migrations are versioned and applied once, however often the CRM is opened."""

from __future__ import annotations

from pathlib import Path

from app.crm import connect, open_crm
from app.crm.migrations import migrations
from app.crm.sample_catalog import SAMPLE_SERVICES

TABLES = {
    "customers",
    "calls",
    "call_events",
    "transcript_turns",
    "services",
    "tickets",
    "ticket_status_changes",
    "quotes",
    "follow_ups",
}


def applied(db) -> list[str]:
    return [m.name for m in migrations.applied(db)]


def test_a_new_file_gets_every_migration_recorded(db_path: Path):
    db = open_crm(db_path)
    try:
        assert TABLES <= set(db.table_names())
        names = applied(db)
        assert names[:2] == ["m001_initial_schema", "m002_sample_service_catalog"]
        assert names == sorted(names) and len(set(names)) == len(names)
        assert migrations.pending(db) == []
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        db.close()


def test_opening_again_is_idempotent(db_path: Path):
    open_crm(db_path).close()
    first = connect(db_path)
    versions = [(m.name, m.applied_at) for m in migrations.applied(first)]
    first.close()

    for _ in range(3):
        db = open_crm(db_path)
        try:
            assert [(m.name, m.applied_at) for m in migrations.applied(db)] == versions
            assert db["services"].count == len(SAMPLE_SERVICES)
        finally:
            db.close()


def test_sample_catalog_is_loaded_once_and_marked(db_path: Path):
    open_crm(db_path).close()
    db = open_crm(db_path)
    try:
        rows = list(db.query("SELECT code, is_sample, active FROM services ORDER BY id"))
        assert [r["code"] for r in rows] == [s["code"] for s in SAMPLE_SERVICES]
        assert all(r["is_sample"] == 1 and r["active"] == 1 for r in rows)
    finally:
        db.close()


def test_a_replaced_catalog_is_not_reloaded(db_path: Path):
    from app.crm.services import replace_catalog

    db = open_crm(db_path)
    replace_catalog(
        db,
        services=[
            {
                "code": "ours",
                "name_en": "Ours",
                "name_ar": "خدمتنا",
                "price": 10,
                "currency": "SAR",
                "unit": "month",
            }
        ],
    )
    db.close()
    db = open_crm(db_path)
    try:
        assert [r["code"] for r in db.query("SELECT code FROM services")] == ["ours"]
    finally:
        db.close()


def test_open_creates_the_parent_directory(tmp_path: Path):
    path = tmp_path / "nested" / "dir" / "crm.sqlite3"
    open_crm(path).close()
    assert path.exists()


def test_past_calls_linked_by_a_typed_number_become_claims(db_path: Path):
    from sqlite_utils import Database

    db = Database(str(db_path))
    migrations.apply(db, stop_before="m003_caller_identity")
    db["customers"].insert(
        {"id": 1, "phone": "+966501112233", "created_at": "x", "updated_at": "x"}
    )
    for room, customer in (("typed", 1), ("nobody", None)):
        db["calls"].insert(
            {
                "room": room,
                "customer_id": customer,
                "language": "ar",
                "department": "sales",
                "created_at": "2026-01-01T00:00:00.000Z",
            }
        )
    db["tickets"].insert(
        {
            "id": 1,
            "number": "TKT-000001",
            "customer_id": 1,
            "call_id": 1,
            "category": "other",
            "priority": "normal",
            "status": "open",
            "subject": "s",
            "sla_due_at": "x",
            "created_at": "x",
            "updated_at": "x",
        }
    )
    db.close()
    db = open_crm(db_path)
    try:
        levels = {r["room"]: r["identity_level"] for r in db.query("SELECT * FROM calls")}
        assert levels == {"typed": "claimed", "nobody": "anonymous"}
        assert db["tickets"].get(1)["customer_id"] == 1  # kept through the table rebuild
        db["tickets"].update(1, {"customer_id": None})  # may now wait on its call for a link
    finally:
        db.close()
