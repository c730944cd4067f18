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
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
    return [] if rows == ["ok"] else rows


def backup(source: str | Path, destination: str | Path) -> Path:
    destination = Path(destination)
    if destination.exists():
        raise CrmError(f"{destination} exists: choose a new file name")
    destination.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(str(source), timeout=BUSY_TIMEOUT_SECONDS)
    dst = sqlite3.connect(str(destination))
    try:
        with dst:
            src.backup(dst, pages=1024)
    finally:
        dst.close()
        src.close()
    problems = integrity_problems(destination)
    if problems:
        raise CrmError(f"the backup failed its integrity check: {problems[0]}")
    return destination


def restore(backup_file: str | Path, target: str | Path) -> Path:
    backup_file, target = Path(backup_file), Path(target)
    if not backup_file.exists():
        raise CrmError(f"{backup_file} does not exist")
    problems = integrity_problems(backup_file)
    if problems:
        raise CrmError(f"{backup_file} failed its integrity check: {problems[0]}")
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    staging = target.with_name(target.name + ".restoring")
    shutil.copyfile(backup_file, staging)
    staging.replace(target)
    open_crm(target).close()
    return target
