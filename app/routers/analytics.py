"""Per-persona analytics and CSV exports for the dashboard (operator key)."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.auth import OperatorDep
from app.crm import analytics
from app.deps import DbDep
from app.schemas import error_responses
from personas import PERSONAS

router = APIRouter(
    prefix="/api/analytics",
    tags=["analytics"],
    dependencies=[OperatorDep],
    responses=error_responses(401, 422),
)

# What `analytics.date_range` accepts, as a pattern the spec carries and the API enforces: a
# real calendar date (leap years included) in 1970 to 9998, optionally with a time of day
# (`THH:MM`, seconds, up to six decimals) and `Z` or a `+HH:MM` offset. ASCII digits only.
_D = "[0-9]"
_YEAR = f"(?:19[7-9]{_D}|[2-8]{_D}{{3}}|9[0-8]{_D}{{2}}|99[0-8]{_D}|999[0-8])"
_MONTH_DAY = (
    f"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]{_D}|3[01])"
    f"|(?:0[469]|11)-(?:0[1-9]|[12]{_D}|30)"
    f"|02-(?:0[1-9]|1{_D}|2[0-8]))"
)
_LEAP_YEAR = (
    f"(?:19(?:7[26]|8[048]|9[26])|[2-9]{_D}(?:0[48]|[2468][048]|[13579][26])"
    "|(?:[2468][048]|[3579][26])00)"
)
_TIME = (
    f"T(?:[01]{_D}|2[0-3]):[0-5]{_D}(?::[0-5]{_D}(?:\\.{_D}{{1,6}})?)?"
    f"(?:Z|[+-](?:[01]{_D}|2[0-3]):[0-5]{_D})?"
)
DATE_PATTERN = f"^(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)(?:{_TIME})?$"

DateParam = Annotated[
    str | None,
    Query(
        max_length=40,
        pattern=DATE_PATTERN,
        description="A date (YYYY-MM-DD, UTC) or an ISO date-time (YYYY-MM-DDTHH:MM[:SS[.ffffff]]"
        " with Z or +HH:MM; UTC without), years 1970 to 9998. A date `until` includes that"
        " day; `until` must come after `since` (422 otherwise).",
    ),
]


class CSVResponse(Response):
    media_type = "text/csv"


# The CSV routes answer errors in JSON like the others; their response class is CSV, so their
# error bodies name the schema rather than a model (FastAPI would file a model under text/csv).
_JSON_ERRORS = {
    status: {
        **{key: value for key, value in spec.items() if key != "model"},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    for status, spec in error_responses(401, 403, 422).items()
}
CSV_ROUTE = {
    "response_class": CSVResponse,
    "responses": {**_JSON_ERRORS, 200: {"description": "CSV (UTF-8 with a byte-order mark)"}},
}

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
    "channel",
    "direction",
    "dialled_number",
    "customer_id",
    "identity_level",
    "identity_method",
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


@router.get("/personas.csv", **CSV_ROUTE)
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


@router.get("/calls.csv", **CSV_ROUTE)
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
    writer.writerows({key: csv_cell(row.get(key)) for key in columns} for row in rows)
    # The byte-order mark makes spreadsheet programs read the Arabic names as UTF-8.
    return CSVResponse(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def csv_cell(value: object) -> object:
    """Text a spreadsheet would run as a formula (a caller can type any name) is quoted."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
