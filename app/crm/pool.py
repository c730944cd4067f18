"""Reused CRM connections for the API's request threads.

Opening a connection per request cost more than the request's own work (bench/, BENCHMARKS.md):
the PRAGMAs, the schema parse on the first statement, and on close the WAL checkpoint SQLite
runs when the last connection to the file goes away. A request takes an idle connection,
uses it from whichever thread runs the endpoint (one request at a time per connection), and
gives it back. `restore` replaces the file, so it runs with the API stopped (README).
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Iterator
from pathlib import Path

from sqlite_utils import Database

from app.crm.db import connect


class ConnectionPool:
    def __init__(self, path: str | Path) -> None:
        self._path = path
        self._idle: queue.SimpleQueue[Database] = queue.SimpleQueue()

    @contextlib.contextmanager
    def connection(self) -> Iterator[Database]:
        try:
            db = self._idle.get_nowait()
        except queue.Empty:
            db = connect(self._path)
        try:
            yield db
        finally:
            if db.conn.in_transaction:  # a request that failed inside a transaction
                db.conn.rollback()
            self._idle.put(db)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
