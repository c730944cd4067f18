"""A worker without the CRM file reports itself to the API every few seconds
(app/worker_registry.py): its registration and load, so the API's worker gate counts its free
call slots. The answers also tell this worker's `/readyz` whether the CRM is in reach."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import httpx
from livekit.agents import AgentServer

from agent.status_server import worker_status
from app.crm.worker_operations import SERVICE_KEY_HEADER
from app.settings import Settings
from app.worker_registry import REPORT_EVERY, STALE_AFTER

logger = logging.getLogger("ornina.agent.reports")


class WorkerReports:
    def __init__(self, server: AgentServer, settings: Settings) -> None:
        assert settings.crm_api_url and settings.worker_service_key
        self._server = server
        self._settings = settings
        self._client = httpx.AsyncClient(
            base_url=settings.crm_api_url,
            headers={SERVICE_KEY_HEADER: settings.worker_service_key.get_secret_value()},
            timeout=httpx.Timeout(REPORT_EVERY, connect=1.0),
        )
        self._answered_at: float | None = None
        self._problem = "not reported to the API yet"
        self._instance = uuid.uuid4().hex

    def problem(self) -> str | None:
        """Why the CRM is out of reach, None when the API took a report recently."""
        if self._answered_at is not None and time.monotonic() - self._answered_at < STALE_AFTER:
            return None
        return self._problem

    async def run(self) -> None:
        while True:
            await self.report_once()
            await asyncio.sleep(REPORT_EVERY)

    async def report_once(self) -> None:
        status = worker_status(self._server, self._settings.agent_name)
        report = {
            **status,
            "worker_name": self._settings.worker_name,
            "livekit_url": self._settings.livekit_url,
            "instance": self._instance,
        }
        if report["max_calls"] is None:
            report["max_calls"] = self._settings.agent_max_concurrent_calls
        path = f"/internal/workers/{self._settings.worker_name}"
        try:
            response = await self._client.put(path, json=report)
        except httpx.HTTPError as error:
            self._failed(f"API not reachable ({type(error).__name__})")
            return
        if response.status_code != 204:
            self._failed(f"API answered {response.status_code}")
            return
        if self._answered_at is None or self.problem() is not None:
            logger.info("reporting to the API", extra={"api": self._settings.crm_api_url})
        self._answered_at = time.monotonic()

    def _failed(self, problem: str) -> None:
        if self._problem != problem or self._answered_at is not None:
            logger.warning("worker report not taken", extra={"problem": problem})
        self._problem = problem
        if self._answered_at is not None and time.monotonic() - self._answered_at >= STALE_AFTER:
            self._answered_at = None

    async def aclose(self) -> None:
        await self._client.aclose()
