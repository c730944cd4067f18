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

Several workers (README, "Deployment shapes"): the gate adds up the free slots of this
container's worker (RUN_WORKER) and of every worker on another machine that reported in the last
few seconds (app/worker_registry.py). A worker reports the rooms of its calls, so an admitted
call stops being counted twice as soon as its worker has it. Which worker gets a call is
LiveKit's choice; a call it drops on the way (a worker on another node filled up first) is
dispatched again by app/lost_calls.py.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass

import httpx
from fastapi import HTTPException

from app.readiness import worker_problem
from app.settings import Settings
from app.worker_registry import WorkerRegistry

RETRY_AFTER_SECONDS = 5
ADMISSION_GRACE_SECONDS = 15.0
"""How long after its token a call may take to reach the worker as a job request (the caller's
page loads and joins, LiveKit dispatches). A caller who joins later than this finds a worker
that may have been filled by others meanwhile; the worker then refuses the job."""


@dataclass
class Admission:
    """A call the gate let through; `room` once its row is written (the call start names it),
    so the call stops being counted here as soon as a worker reports that room."""

    at: float
    room: str | None = None
    seen: bool = False
    """A worker reported its room: counted in that worker's `calls` from then on."""


class WorkerGate:
    def __init__(self, settings: Settings, registry: WorkerRegistry, ttl: float = 1.0) -> None:
        self._settings = settings
        self._registry = registry
        self._ttl = ttl
        self._lock = asyncio.Lock()
        self._checked_at = -ttl
        self._asked_at = -ttl
        self._info: dict | None = None
        self._problem: str | None = None
        self._admitted: collections.deque[Admission] = collections.deque()
        # one client for the life of the process: a new one builds a TLS context each time
        # (several ms of CPU, while every call start waits on the lock)
        self._client = httpx.AsyncClient(timeout=1.0)

    async def problem(self) -> str | None:
        """What keeps every worker from taking any call (not registered, draining, ...)."""
        if self._stale():
            async with self._lock:  # one request asks; the others wait for its answer
                if self._stale():
                    asked_at = time.monotonic()
                    self._info = await self._ask_worker() if self._settings.run_worker else None
                    self._asked_at, self._checked_at = asked_at, time.monotonic()
        workers, problems = self._available()
        if workers:
            return None
        return "; ".join(problems) or "no agent worker has reported to this API"

    def _available(self) -> tuple[list[dict], list[str]]:
        """The statuses of the workers that can take calls, and what keeps the others out."""
        name = self._settings.agent_name
        statuses = [report.model_dump() for report in self._registry.fresh().values()]
        problems = []
        if self._settings.run_worker:
            statuses.insert(0, self._info)
        workers = []
        for status in statuses:
            problem = worker_problem(status, name)
            if problem is None:
                workers.append(status)
            elif isinstance(status, dict) and status.get("worker_name"):
                problems.append(f"{status['worker_name']}: {problem}")
            else:
                problems.append(problem)
        return workers, problems

    def _stale(self) -> bool:
        return time.monotonic() - self._checked_at >= self._ttl

    def _full(self) -> str | None:
        """Why the worker could not take one more call now, counting the calls admitted here
        that its status may not count yet; None when a slot is free."""
        max_calls = calls = 0
        rooms: set[str] = set()
        for info in self._available()[0]:
            slots, used = info.get("max_calls"), info.get("calls")
            if not isinstance(slots, int) or not isinstance(used, int):
                return None  # a worker that does not report its slots: registration decides
            max_calls, calls = max_calls + slots, calls + used
            rooms.update(info.get("rooms") or ())
        since = self._asked_at - ADMISSION_GRACE_SECONDS
        while self._admitted and self._admitted[0].at <= since:
            self._admitted.popleft()
        # a call whose room a worker reported is in that worker's `calls` (until it ends)
        for admission in self._admitted:
            admission.seen = admission.seen or admission.room in rooms
        waiting = sum(1 for admission in self._admitted if not admission.seen)
        in_use = calls + waiting
        if in_use < max_calls:
            return None
        return f"the agent is busy: all {max_calls} call slots are in use"

    async def check(self) -> Admission:
        """Raise 503 when no agent could answer a call started now; otherwise count the call
        as one of the workers' slots (set `room` on the answer once the room is chosen)."""
        if not self._settings.calls_require_worker:
            return Admission(time.monotonic())
        problem = await self.problem() or self._full()
        if problem:
            raise HTTPException(
                503,
                f"no agent can answer right now ({problem}); try again in a few seconds",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        admission = Admission(time.monotonic())
        self._admitted.append(admission)
        return admission

    async def _ask_worker(self) -> dict | None:
        try:
            info = (await self._client.get(f"{self._settings.agent_health_url}/worker")).json()
        except (httpx.HTTPError, ValueError):
            return None
        return info if isinstance(info, dict) else None

    async def aclose(self) -> None:
        await self._client.aclose()
