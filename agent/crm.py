"""One call's CRM connection, driven from a single worker thread.

The store's functions are synchronous SQLite calls. Running them on one thread per call keeps
the event loop free and keeps the call's writes in the order they were made (a turn is never
written before the event that preceded it).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database

from app.crm import open_crm

logger = logging.getLogger("ornina.agent.crm")

T = TypeVar("T")


class CallCrm:
    """The CRM as one call sees it: `await run(...)` for answers, `submit(...)` for records."""

    def __init__(self, db: Database, executor: ThreadPoolExecutor) -> None:
        self._db = db
        self._executor = executor
        self._pending: set[asyncio.Future[Any]] = set()
        self._closed = False

    @classmethod
    async def open(cls, path: str | Path) -> CallCrm:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="call-crm")
        loop = asyncio.get_running_loop()
        try:
            db = await loop.run_in_executor(executor, open_crm, path)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(db, executor)

    async def run(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """Call a store function (`fn(db, **kwargs)`) on the call's CRM thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, self._db, **kwargs))

    def submit(self, fn: Callable[..., Any], /, **kwargs: Any) -> None:
        """Queue a write without waiting for it; a failure is logged, never raised."""
        if self._closed:
            logger.warning("CRM write after close dropped", extra={"fn": fn.__name__})
            return
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, functools.partial(fn, self._db, **kwargs))
        self._pending.add(future)
        future.add_done_callback(functools.partial(self._write_done, fn.__name__))

    def _write_done(self, name: str, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and (error := future.exception()) is not None:
            logger.error("CRM write failed", extra={"fn": name}, exc_info=error)

    async def flush(self) -> None:
        """Wait until every queued write has reached the database."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def aclose(self) -> None:
        if self._closed:
            return
        await self.flush()
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._db.conn.close)
        self._executor.shutdown(wait=False)
