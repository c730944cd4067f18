"""The audit trail: who changed what, and when. One row per operator action that changes
something; the operator is kept by id and by login (the login stays readable if the account
is renamed)."""

from __future__ import annotations

import json

from sqlite_utils import Database

from app.crm.clock import now_iso
from app.crm.db import writing
from app.crm.queries import insert_row, newest_first


def record(
    db: Database,
    *,
    operator_id: int | None,
    operator_login: str,
    action: str,
    record_type: str,
    record_id: object = None,
    **details: object,
) -> dict:
    row = {
        "at": now_iso(),
        "operator_id": operator_id,
        "operator_login": operator_login,
        "action": action,
        "record_type": record_type,
        "record_id": None if record_id is None else str(record_id),
        "details": json.dumps(details, ensure_ascii=False, default=str),
    }
    with writing(db):
        row["id"] = insert_row(db, "audit_log", row)
    return {**row, "details": details}


def list_audit(
    db: Database,
    *,
    operator_id: int | None = None,
    action: str | None = None,
    record_type: str | None = None,
    record_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict]:
    rows = newest_first(
        db,
        "audit_log",
        equal={
            "operator_id": operator_id,
            "action": action,
            "record_type": record_type,
            "record_id": record_id,
        },
        since=since,
        until=until,
        time_column="at",
        limit=limit,
        offset=offset,
    )
    return [{**row, "details": json.loads(row["details"])} for row in rows]
