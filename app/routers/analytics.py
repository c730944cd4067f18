"""Per-persona analytics and CSV exports for the dashboard (operator key)."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.crm import analytics
from app.deps import DbDep, OperatorDep
from personas import PERSONAS

router = APIRouter(prefix="/api/analytics", tags=["analytics"], dependencies=[OperatorDep])

DateParam = Annotated[str | None, Query(max_length=40, description="YYYY-MM-DD or ISO date-time")]

PERSONA_COLUMNS = (
    "persona",
    "name",
    "department",
    "calls_handled",
    "transfers_in",
    "transfers_out",
    "avg_handling_seconds",
    "tickets_created",
    "quotes_created",
    "turn_latency_p50",
    "turn_latency_p90",
    "latency_turns",
)
CALL_COLUMNS = (
    "id",
    "created_at",
    "agent_joined_at",
    "ended_at",
    "status",
    "language",
    "department",
    "customer_id",
    "caller_name",
    "caller_phone",
    "personas_visited",
    "transfers",
    "duration_seconds",
    "outcome",
)


@router.get("/personas")
def persona_analytics(db: DbDep, since: DateParam = None, until: DateParam = None) -> dict:
    """Calls handled, transfers in and out, handling time, tickets, quotes and turn latency
    (P50/P90) per persona, over the calls created in the date range."""
    start, end = analytics.date_range(since, until)
    return analytics.persona_analytics(db, since=start, until=end)


@router.get("/personas.csv")
def persona_analytics_csv(db: DbDep, since: DateParam = None, until: DateParam = None) -> Response:
    """The per-persona analytics as CSV."""
    start, end = analytics.date_range(since, until)
    rows = [
        {
            **row,
            "name": PERSONAS[row["persona"]].name["en"],
            "department": PERSONAS[row["persona"]].department["en"],
        }
        for row in analytics.persona_analytics(db, since=start, until=end)["personas"]
    ]
    return _csv(rows, PERSONA_COLUMNS, "ornina-persona-analytics.csv")


@router.get("/calls.csv")
def calls_csv(db: DbDep, since: DateParam = None, until: DateParam = None) -> Response:
    """The calls created in the date range as CSV, oldest first."""
    start, end = analytics.date_range(since, until)
    rows = [
        {**row, "personas_visited": " > ".join(row["personas_visited"])}
        for row in analytics.calls_export(db, since=start, until=end)
    ]
    return _csv(rows, CALL_COLUMNS, "ornina-calls.csv")


def _csv(rows: list[dict], columns: tuple[str, ...], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({key: _cell(row.get(key)) for key in columns} for row in rows)
    # The byte-order mark makes spreadsheet programs read the Arabic names as UTF-8.
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _cell(value: object) -> object:
    """Text a spreadsheet would run as a formula (a caller can type any name) is quoted."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
