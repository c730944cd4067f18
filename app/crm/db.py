"""Opening the CRM file: WAL, a busy timeout, foreign keys, and migrations applied once."""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlite_utils import Database

from app.crm.migrations import migrations

BUSY_TIMEOUT_SECONDS = 30.0
_WRITERS = threading.RLock()
"""Writers of one process take turns here, in order, instead of in SQLite's busy handler,
which sleeps (1, 2, 5, ... 100 ms) and retries: under concurrent requests that sleeping made
the API's write throughput collapse and its tail latency reach seconds (bench/, BENCHMARKS.md).
Writers in other processes (the worker's calls) still meet on the busy timeout."""


def connect(path: str | Path) -> Database:
    """A connection to an existing, migrated CRM file (one per thread or request)."""
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    return Database(conn, execute_plugins=False)


def open_crm(path: str | Path) -> Database:
    """Create or upgrade the CRM file and return a connection to it.

    The API and the worker both call this at start; a file lock beside the database keeps
    two processes from applying the same migration at once.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        db = connect(path)
        db.conn.execute("PRAGMA journal_mode = WAL")
        migrations.apply(db)
    return db


@contextlib.contextmanager
def writing(db: Database) -> Iterator[Database]:
    """A write transaction that takes the write lock up front (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes can fail with "database is locked"
    regardless of the busy timeout when another process commits in between; taking the lock
    first makes writers queue on the busy timeout instead. Nested use becomes a savepoint.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    with _WRITERS:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        db.conn.execute("COMMIT")
