"""No token for a room no agent will join.

LiveKit dispatches the agent once, when the caller's join creates the room, and never retries:
a call started while the worker is down, draining, not yet registered or full leaves the caller
in silence. So `POST /api/calls`, `POST /api/token` and callbacks first ask the worker's status
endpoint (the same check as `/readyz`, remembered for a second) and answer 503 with Retry-After
instead.

Full: the worker refuses a job request when its calls in progress (running or still starting)
reach its `max_calls` (agent/worker.py, `CallServer`). With one worker LiveKit has no one else
to offer that call to, so the gate counts the slots first. A call admitted here reaches the
worker as a job request only once its caller has joined, so the worker's `calls` may not count
it yet: the gate counts each call it admitted from `ADMISSION_GRACE_SECONDS` before the status
was asked, as well. That counts a call twice for those seconds, never zero times: a caller may
be told to retry a few seconds early, never handed a token for a call no agent will take.
"""

from __future__ import annotations

import asyncio
import collections
import time

import httpx
from fastapi import HTTPException

from app.readiness import worker_problem
from app.settings import Settings

RETRY_AFTER_SECONDS = 5
ADMISSION_GRACE_SECONDS = 15.0
"""How long after its token a call may take to reach the worker as a job request (the caller's
page loads and joins, LiveKit dispatches). A caller who joins later than this finds a worker
that may have been filled by others meanwhile; the worker then refuses the job."""


class WorkerGate:
    def __init__(self, settings: Settings, ttl: float = 1.0) -> None:
        self._settings = settings
        self._ttl = ttl
        self._lock = asyncio.Lock()
        self._checked_at = -ttl
        self._asked_at = -ttl
        self._info: dict | None = None
        self._problem: str | None = None
        self._admitted: collections.deque[float] = collections.deque()
        # one client for the life of the process: a new one builds a TLS context each time
        # (several ms of CPU, while every call start waits on the lock)
        self._client = httpx.AsyncClient(timeout=1.0)

    async def problem(self) -> str | None:
        """What keeps the worker from taking any call (not registered, draining, ...)."""
        if self._stale():
            async with self._lock:  # one request asks; the others wait for its answer
                if self._stale():
                    asked_at = time.monotonic()
                    self._info = await self._ask_worker()
                    self._problem = worker_problem(self._info, self._settings.agent_name)
                    self._asked_at, self._checked_at = asked_at, time.monotonic()
        return self._problem

    def _stale(self) -> bool:
        return time.monotonic() - self._checked_at >= self._ttl

    def _full(self) -> str | None:
        """Why the worker could not take one more call now, counting the calls admitted here
        that its status may not count yet; None when a slot is free."""
        info = self._info or {}
        max_calls, calls = info.get("max_calls"), info.get("calls")
        if not isinstance(max_calls, int) or not isinstance(calls, int):
            return None  # a worker that does not report its slots: registration decides
        since = self._asked_at - ADMISSION_GRACE_SECONDS
        while self._admitted and self._admitted[0] <= since:
            self._admitted.popleft()
        in_use = calls + len(self._admitted)
        if in_use < max_calls:
            return None
        return f"the agent is busy: all {max_calls} call slots are in use"

    async def check(self) -> None:
        """Raise 503 when no agent could answer a call started now; otherwise count the call
        as one of the worker's slots."""
        if not self._settings.calls_require_worker:
            return
        problem = await self.problem() or self._full()
        if problem:
            raise HTTPException(
                503,
                f"no agent can answer right now ({problem}); try again in a few seconds",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self._admitted.append(time.monotonic())

    async def _ask_worker(self) -> dict | None:
        try:
            info = (await self._client.get(f"{self._settings.agent_health_url}/worker")).json()
        except (httpx.HTTPError, ValueError):
            return None
        return info if isinstance(info, dict) else None

    async def aclose(self) -> None:
        await self._client.aclose()
