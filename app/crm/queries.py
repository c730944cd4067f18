"""Small SQL helpers the store modules share: filtered newest-first listings and existence
checks. Column and table names come from the calling code, never from user input."""

from __future__ import annotations

from sqlite_utils import Database

from app.crm.errors import InvalidInput, NotFound


def newest_first(
    db: Database,
    table: str,
    *,
    equal: dict[str, object],
    since: str | None = None,
    until: str | None = None,
    time_column: str = "created_at",
    limit: int = 50,
    offset: int = 0,
) -> list[dict]:
    """Rows of `table` whose columns equal the given non-None values (and whose `time_column`
    falls in [since, until) when given), newest first."""
    where = [f"{column} = ?" for column, value in equal.items() if value is not None]
    params: list[object] = [value for value in equal.values() if value is not None]
    if since is not None:
        where.append(f"{time_column} >= ?")
        params.append(since)
    if until is not None:
        where.append(f"{time_column} < ?")
        params.append(until)
    sql = f"SELECT * FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
    return list(db.query(sql, [*params, limit, offset]))


def require(db: Database, table: str, row_id: int | None, what: str) -> None:
    """Raise NotFound unless `table` has a row with this id (None means "not linked")."""
    if row_id is not None and not list(db.query(f"SELECT 1 FROM {table} WHERE id = ?", [row_id])):
        raise NotFound(f"{what} {row_id} not found")


def require_owner(db: Database, *, customer_id: int | None, call_id: int | None) -> None:
    """A ticket, quote or follow-up belongs to a customer, or (opened by a caller who has not
    proven who they are) to its call until an operator links it; both must exist."""
    if customer_id is None and call_id is None:
        raise InvalidInput("needs a customer, or the call it was opened on")
    require(db, "customers", customer_id, "customer")
    require(db, "calls", call_id, "call")


def insert_row(db: Database, table: str, row: dict[str, object]) -> int:
    """INSERT one row and return its id: a plain statement on the hot paths (a call start, each
    turn), where sqlite-utils' `insert` first looks the table up in `sqlite_master`."""
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
    return db.execute(sql, list(row.values())).lastrowid


def next_id(db: Database, table: str) -> int:
    """The id the next row of `table` gets; call inside a write transaction."""
    return next(db.query(f"SELECT COALESCE(MAX(id), 0) + 1 AS n FROM {table}"))["n"]
