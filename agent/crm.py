"""One call's CRM: the file in this process, or the API when the worker has no CRM file.

Both keep a call's operations in the order they were made (a turn is never written before the
event that preceded it) and keep the event loop free:

- `LocalCallCrm` runs the store functions on one thread per call, on the CRM file.
- `RemoteCallCrm` sends them to the API's internal route (CRM_API_URL, WORKER_SERVICE_KEY;
  app/routers/internal.py) from one task per call, several at a time when they queue up. When
  the API does not answer (restarting, unreachable) it keeps them and retries with the same ids,
  so nothing is lost or applied twice; at CRM_WRITE_BUFFER waiting writes it drops new ones,
  with an error in the log. A caller waiting on an answer (`run`) gets `CrmUnavailable` after
  RUN_DEADLINE seconds instead of silence (the tools turn it into a spoken apology); a write
  stays queued and is applied when the API is back, a read is dropped.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
from sqlite_utils import Database

from app.crm import CrmError, open_crm
from app.crm.worker_operations import (
    SERVICE_KEY_HEADER,
    CrmUnavailable,
    Operation,
    operation_for,
    raise_error,
)
from app.settings import Settings

logger = logging.getLogger("ornina.agent.crm")

T = TypeVar("T")

BATCH = 100
"""Operations sent in one request when they have queued up (the API allows 200)."""
RUN_DEADLINE = 15.0
"""Seconds a call waits for an answer from an API that does not respond."""
CLOSE_DEADLINE = 120.0
"""Seconds a call's end waits for its last writes to reach a restarting API."""
GIVE_UP_AFTER = 600.0
"""Seconds one batch is retried for an API that does not answer before it is given up as lost
(logged); the call itself ends long before, so this only bounds a worker's memory and retries."""
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)
"""Between attempts while the API does not answer (the last one repeats)."""
REQUEST_TIMEOUT = httpx.Timeout(10.0, connect=2.0)
KEPT = (
    "The records system is not answering right now. This request is kept and will be saved "
    "when it is back, so do not repeat it: tell the caller it is noted, without a number."
)


class CallCrm(Protocol):
    """The CRM as one call sees it: `await run(...)` for answers, `submit(...)` for records."""

    async def run(self, fn: Callable[..., T], /, **kwargs: Any) -> T: ...

    def submit(self, fn: Callable[..., Any], /, **kwargs: Any) -> None: ...

    async def flush(self) -> None: ...

    async def aclose(self) -> None: ...


async def open_call_crm(settings: Settings) -> CallCrm:
    """Through the API when CRM_API_URL is set, else the CRM file itself."""
    if settings.crm_api_url:
        assert settings.worker_service_key is not None  # settings validation requires it
        return RemoteCallCrm(
            settings.crm_api_url,
            settings.worker_service_key.get_secret_value(),
            buffer_limit=settings.crm_write_buffer,
        )
    return await LocalCallCrm.open(settings.crm_db_path)


class LocalCallCrm:
    """The CRM file, driven from a single worker thread per call."""

    def __init__(self, db: Database, executor: ThreadPoolExecutor) -> None:
        self._db = db
        self._executor = executor
        self._pending: set[asyncio.Future[Any]] = set()
        self._closed = False

    @classmethod
    async def open(cls, path: str | Path) -> LocalCallCrm:
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


@dataclass(eq=False)
class _Queued:
    op: Operation
    arguments: Any
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    answer: asyncio.Future[Any] | None = None
    """Set for `run`: someone waits for the answer."""
    sent: bool = False
    """Sent at least once: the API may have applied it, so it is retried until answered."""
    abandoned: bool = False
    """A read whose caller stopped waiting (RUN_DEADLINE) before it was sent: never sent."""


class RemoteCallCrm:
    """The CRM through the API, for a worker that has no CRM file."""

    def __init__(
        self,
        base_url: str,
        service_key: str,
        *,
        buffer_limit: int = 2000,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={SERVICE_KEY_HEADER: service_key},
            timeout=REQUEST_TIMEOUT,
            transport=transport,
        )
        self._buffer_limit = buffer_limit
        self._queue: deque[_Queued] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self._dropped = 0
        self._sender = asyncio.create_task(self._send_forever(), name="crm-remote-sender")

    async def run(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a store function on the API's CRM, after the operations queued before it."""
        op = operation_for(fn)
        answer = asyncio.get_running_loop().create_future()
        # an answer that comes after its caller gave up is dropped without a warning
        answer.add_done_callback(lambda f: f.cancelled() or f.exception())
        queued = _Queued(op, op.arguments_json(kwargs), answer=answer)
        self._enqueue(queued)
        try:
            return await asyncio.wait_for(asyncio.shield(queued.answer), RUN_DEADLINE)
        except TimeoutError:
            logger.error(
                "CRM API did not answer in time",
                extra={"operation": op.name, "seconds": RUN_DEADLINE, "writes": op.writes},
            )
            if op.writes:
                # a write stays queued, in order, and is applied once the API is back
                raise CrmUnavailable(KEPT) from None
            if not queued.sent:
                queued.abandoned = True
            raise CrmUnavailable() from None

    def submit(self, fn: Callable[..., Any], /, **kwargs: Any) -> None:
        """Queue a write without waiting for it; a failure is logged, never raised."""
        try:
            op = operation_for(fn)
            arguments = op.arguments_json(kwargs)
        except (KeyError, CrmError) as error:
            logger.error("CRM write failed", extra={"fn": fn.__name__, "error": str(error)})
            return
        if self._closed:
            logger.warning("CRM write after close dropped", extra={"fn": fn.__name__})
            return
        waiting = sum(1 for q in self._queue if q.answer is None)
        if waiting >= self._buffer_limit:
            self._dropped += 1
            logger.error(
                "CRM write buffer full: write dropped (the API has not answered; "
                "CRM_WRITE_BUFFER=%d writes are waiting, %d dropped in this call)",
                self._buffer_limit,
                self._dropped,
                extra={"operation": op.name},
            )
            return
        self._enqueue(_Queued(op, arguments))

    def _enqueue(self, queued: _Queued) -> None:
        self._queue.append(queued)
        self._idle.clear()
        self._wakeup.set()

    async def flush(self) -> None:
        """Wait until every queued operation has been answered by the API, or CLOSE_DEADLINE
        seconds (the writes stay queued; `aclose` gives them up)."""
        try:
            await asyncio.wait_for(self._idle.wait(), CLOSE_DEADLINE)
        except TimeoutError:
            logger.error(
                "CRM API not answering at the end of the call",
                extra={"waiting": len(self._queue), "seconds": CLOSE_DEADLINE},
            )

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._idle.is_set():
            await self.flush()
        if self._queue:
            logger.error(
                "CRM API unreachable at the end of the call: writes lost",
                extra={"writes": sum(1 for q in self._queue if not q.abandoned)},
            )
        self._sender.cancel()
        await asyncio.gather(self._sender, return_exceptions=True)
        await self._client.aclose()

    async def _send_forever(self) -> None:
        while True:
            while not self._queue:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
            batch = self._next_batch()
            if not batch:
                continue
            try:
                await self._send(batch)
            except Exception:  # a bug here must not stop the call's records for good
                logger.exception("CRM sender failed; the batch is given up")
                self._give_up(batch)

    def _next_batch(self) -> list[_Queued]:
        """The operations at the head of the queue, up to and including the first one someone
        waits for (its answer should not wait behind later writes)."""
        while self._queue and self._queue[0].abandoned:
            self._queue.popleft()
        batch: list[_Queued] = []
        for queued in self._queue:
            if queued.abandoned:
                continue
            batch.append(queued)
            if queued.answer is not None or len(batch) >= BATCH:
                break
        return batch

    async def _send(self, batch: list[_Queued]) -> None:
        """Send until the API answers; then settle each operation and drop it from the queue."""
        body = {
            "operations": [{"id": q.id, "name": q.op.name, "arguments": q.arguments} for q in batch]
        }
        attempt, failing_since = 0, None
        while True:
            for queued in batch:
                queued.sent = True
            try:
                response = await self._client.post("/internal/crm", json=body)
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__}"
            else:
                if response.status_code == 200:
                    try:
                        results = {item["id"]: item for item in response.json()["results"]}
                        break
                    except (ValueError, KeyError, TypeError):
                        problem = "an answer that is not the API's"  # a proxy's page
                elif 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    # refused as a whole: a bug or a wrong key, which no retry mends
                    self._refused(batch, response)
                    return
                else:
                    problem = f"HTTP {response.status_code}"
            if failing_since is None:
                failing_since = time.monotonic()
                logger.warning(
                    "CRM API not answering: keeping the call's operations and retrying",
                    extra={"problem": problem, "waiting": len(self._queue)},
                )
            elif time.monotonic() - failing_since > GIVE_UP_AFTER:
                logger.error(
                    "CRM API not answering for %d s: the call's operations are lost",
                    GIVE_UP_AFTER,
                    extra={"problem": problem, "operations": len(batch)},
                )
                self._give_up(batch)
                return
            await asyncio.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
            attempt += 1
        if failing_since is not None:
            logger.info(
                "CRM API answering again: waiting operations sent",
                extra={"seconds": round(time.monotonic() - failing_since, 1), "attempts": attempt},
            )
        for queued in batch:
            self._settle(queued, results.get(queued.id))

    def _refused(self, batch: list[_Queued], response: httpx.Response) -> None:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        logger.error(
            "CRM API refused the call's operations",
            extra={"status": response.status_code, "error": message, "operations": len(batch)},
        )
        self._give_up(batch)

    def _give_up(self, batch: list[_Queued]) -> None:
        """Drop the batch from the queue; whoever waits on one of them hears `CrmUnavailable`."""
        for queued in batch:
            self._settle(queued, {"error": {"type": "CrmUnavailable", "detail": ""}})

    def _settle(self, queued: _Queued, result: dict | None) -> None:
        with_error = result is None or "error" in result and result["error"] is not None
        if queued in self._queue:
            self._queue.remove(queued)
        if queued.answer is None:
            if with_error:
                detail = (result or {}).get("error") or {"type": "missing answer"}
                logger.error(
                    "CRM write failed", extra={"fn": queued.op.name, "error": detail.get("type")}
                )
            return
        if queued.answer.done():
            return
        try:
            if with_error:
                raise_error((result or {}).get("error") or {})
            queued.answer.set_result(queued.op.decode_answer(result["answer"]))
        except Exception as error:  # noqa: BLE001 - handed to the one waiting
            queued.answer.set_exception(error)
