"""No token for a room no agent will join.

LiveKit dispatches the agent once, when the caller's join creates the room, and never retries:
a call started while the worker is down, draining or not yet registered leaves the caller in
silence. So `POST /api/calls` and `POST /api/token` first ask the worker's status endpoint (the
same check as `/readyz`, remembered for a second) and answer 503 with Retry-After instead.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import HTTPException

from app.readiness import worker_problem
from app.settings import Settings

RETRY_AFTER_SECONDS = 5


class WorkerGate:
    def __init__(self, settings: Settings, ttl: float = 1.0) -> None:
        self._settings = settings
        self._ttl = ttl
        self._lock = asyncio.Lock()
        self._checked_at = -ttl
        self._problem: str | None = None
        # one client for the life of the process: a new one builds a TLS context each time
        # (several ms of CPU, while every call start waits on the lock)
        self._client = httpx.AsyncClient(timeout=1.0)

    async def problem(self) -> str | None:
        if self._stale():
            async with self._lock:  # one request asks; the others wait for its answer
                if self._stale():
                    self._problem = await self._ask_worker()
                    self._checked_at = time.monotonic()
        return self._problem

    def _stale(self) -> bool:
        return time.monotonic() - self._checked_at >= self._ttl

    async def check(self) -> None:
        """Raise 503 when no agent could answer a call started now."""
        if not self._settings.calls_require_worker:
            return
        problem = await self.problem()
        if problem:
            raise HTTPException(
                503,
                f"no agent can answer right now ({problem}); try again in a few seconds",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )

    async def _ask_worker(self) -> str | None:
        try:
            info = (await self._client.get(f"{self._settings.agent_health_url}/worker")).json()
        except (httpx.HTTPError, ValueError):
            info = None
        return worker_problem(info, self._settings.agent_name)

    async def aclose(self) -> None:
        await self._client.aclose()
