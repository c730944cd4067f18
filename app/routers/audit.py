"""The audit trail: every change an operator made, filterable, and as CSV."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.auth import Can
from app.crm import audit
from app.deps import DbDep
from app.routers.analytics import CSV_ROUTE, CSVResponse, csv_cell
from app.routers.pagination import Limit, Offset, QueryId
from app.schemas import error_responses

router = APIRouter(prefix="/api/audit", tags=["audit"], responses=error_responses(401, 403, 422))
Timestamp = Annotated[str | None, Query(max_length=40, pattern=r"^\d{4}-\d{2}-\d{2}[0-9T:.Z+-]*$")]
Word = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_.]+$")]
RecordId = Annotated[str | None, Query(max_length=40)]
COLUMNS = ("id", "at", "operator_id", "operator_login", "action", "record_type", "record_id")


@dataclass
class AuditFilter:
    """The filters both listings take, as query parameters."""

    operator_id: QueryId = None
    action: Word = None
    record_type: Word = None
    record_id: RecordId = None
    since: Timestamp = None
    until: Timestamp = None


FilterDep = Annotated[AuditFilter, Depends()]


@router.get("")
def list_audit(
    db: DbDep, actor: Can("audit.read"), where: FilterDep, limit: Limit = 50, offset: Offset = 0
) -> list[dict]:
    """Changes, newest first, filtered by operator, action, record or time."""
    return audit.list_audit(db, **asdict(where), limit=limit, offset=offset)


@router.get(".csv", **CSV_ROUTE)
def export_audit(db: DbDep, actor: Can("audit.read"), where: FilterDep) -> CSVResponse:
    """The same changes as CSV (at most 100,000)."""
    rows = audit.list_audit(db, **asdict(where), limit=100_000)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*COLUMNS, "details"])
    for row in rows:
        details = json.dumps(row["details"], ensure_ascii=False)
        writer.writerow([csv_cell(v) for v in (*(row[c] for c in COLUMNS), details)])
    return CSVResponse(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="ornina-audit.csv"'},
    )
