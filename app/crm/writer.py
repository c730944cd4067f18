"""One thread for the API's call-start writes, committing them in groups.

A process's CRM writers take turns anyway (`db.writing` holds a lock), so call starts gain
nothing from the request thread pool but pay for it: anyio's hop into one of 40 threads, and
those threads contending for the GIL and the lock. One dedicated thread with its own connection
runs them instead, and when several are waiting it runs them in one transaction (each in its own
savepoint) so they share one `BEGIN IMMEDIATE` and one `COMMIT`, SQLite's costly part of a
small write. A request is answered only after its transaction commits (bench/, BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database

from app.crm.db import connect, writing

T = TypeVar("T")
MAX_GROUP = 64
_STOP = object()


class CrmWriter:
    def __init__(self, path: str | Path) -> None:
        self._path = path
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="crm-writer", daemon=True)
        self._thread.start()

    async def run(self, work: Callable[..., T], *args: object, **kwargs: object) -> T:
        """`work(db, *args, **kwargs)` in the writer thread, once its transaction committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((lambda db: work(db, *args, **kwargs), loop, future))
        return await future

    def close(self) -> None:
        self._jobs.put(_STOP)
        self._thread.join()

    def _serve(self) -> None:
        db = None
        try:
            while (group := self._next_group()) is not None:
                try:
                    # opened on first use: the API may start before its CRM file exists
                    if db is None:
                        db = connect(self._path)
                    outcomes = _run_group(db, group)
                except Exception as error:  # noqa: BLE001 - no connection, BEGIN or COMMIT
                    outcomes = [(loop, future, None, error) for _, loop, future in group]
                for loop, future, result, error in outcomes:
                    with contextlib.suppress(RuntimeError):  # that loop has closed
                        loop.call_soon_threadsafe(_settle, future, result, error)
        finally:
            if db is not None:
                db.close()

    def _next_group(self) -> list | None:
        """The waiting jobs (at least one, blocking for it); None once closed."""
        first = self._jobs.get()
        if first is _STOP:
            return None
        group = [first]
        while len(group) < MAX_GROUP:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is _STOP:
                self._jobs.put(_STOP)  # finish this group, then stop
                break
            group.append(job)
        return group


def _run_group(db: Database, group: list) -> list:
    """Each job in its own savepoint of one transaction: a failing job undoes only its writes."""
    outcomes = []
    with writing(db):
        for work, loop, future in group:
            try:
                with db.atomic():
                    outcomes.append((loop, future, work(db), None))
            except Exception as error:  # noqa: BLE001 - handed to its request
                outcomes.append((loop, future, None, error))
    return outcomes


def _settle(future: asyncio.Future, result: object, error: BaseException | None) -> None:
    if future.cancelled():  # the client went away
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
