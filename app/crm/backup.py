"""Online backup and restore of the CRM file.

`backup` uses SQLite's backup API, so it is consistent while the API and the worker keep
writing. `restore` refuses a file that fails `PRAGMA integrity_check`, and should run with the
programs stopped (`supervisorctl stop api agent`).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from app.crm.db import BUSY_TIMEOUT_SECONDS, open_crm
from app.crm.errors import CrmError


def integrity_problems(path: str | Path) -> list[str]:
    """What `PRAGMA integrity_check` finds wrong, one line each (none for a sound file)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as error:  # not a database at all, or a mangled header
        return [str(error)]
    finally:
        conn.close()
    if rows == ["ok"]:
        return []
    lines = [line for row in rows for line in row.splitlines()]
    return [line for line in lines if line.strip() and not line.startswith("***")] or ["failed"]


def _first(problems: list[str]) -> str:
    more = len(problems) - 1
    return problems[0] + (f" (and {more} more)" if more else "")


def _holds_a_crm(path: Path) -> bool:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    return {"_sqlite_migrations", "customers", "calls"} <= tables


def backup(source: str | Path, destination: str | Path) -> Path:
    destination = Path(destination)
    if not Path(source).exists():  # sqlite3.connect would create an empty CRM there
        raise CrmError(f"{source} does not exist: nothing to back up")
    if destination.exists():
        raise CrmError(f"{destination} exists: choose a new file name")
    destination.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(str(source), timeout=BUSY_TIMEOUT_SECONDS)
    dst = sqlite3.connect(str(destination))
    try:
        with dst:
            # One step, under one read transaction: a consistent snapshot that WAL lets writers
            # keep committing through. Copied in chunks, the backup restarts from scratch after
            # each commit by another process, and never ends while calls keep writing.
            src.backup(dst, pages=-1)
    finally:
        dst.close()
        src.close()
    problems = integrity_problems(destination)
    if problems:
        raise CrmError(f"the backup failed its integrity check: {_first(problems)}")
    return destination


def restore(backup_file: str | Path, target: str | Path) -> Path:
    backup_file, target = Path(backup_file), Path(target)
    if not backup_file.exists():
        raise CrmError(f"{backup_file} does not exist")
    problems = integrity_problems(backup_file)
    if problems:
        raise CrmError(f"{backup_file} failed its integrity check: {_first(problems)}")
    if not _holds_a_crm(backup_file):  # an empty file is a valid, empty SQLite database
        raise CrmError(f"{backup_file} is not a CRM backup: it has no CRM tables")
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    staging = target.with_name(target.name + ".restoring")
    shutil.copyfile(backup_file, staging)
    staging.replace(target)
    open_crm(target).close()
    return target
