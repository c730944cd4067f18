"""The workers on other machines, as they report themselves (`PUT /internal/workers/{id}`).

A worker-only container has no API of its own for the core to ask, so each worker tells the
API its registration and load every few seconds (agent/worker_reports.py). A worker that has
not reported for STALE_AFTER seconds is gone (stopped, crashed, or cut off) and no longer counts.
Kept in memory: after an API restart the workers are known again within one report.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger("ornina.api.workers")

STALE_AFTER = 6.0
REPORT_EVERY = 2.0
"""How often a worker reports (agent/worker_reports.py); three reports fit in STALE_AFTER."""


class WorkerReport(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    worker_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
    agent_name: str = Field(min_length=1, max_length=64)
    registered: bool
    draining: bool = False
    calls: int = Field(ge=0, le=100_000)
    max_calls: int = Field(ge=1, le=100_000)
    livekit_url: str | None = Field(default=None, max_length=300)
    rooms: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=1000
    )
    """The rooms of its calls in progress (the gate stops counting those it admitted)."""
    instance: str | None = Field(default=None, pattern=r"^[0-9a-f]{8,64}$")
    """Random per worker process: two processes reporting under one name are told apart."""


class WorkerRegistry:
    def __init__(self) -> None:
        self._reports: dict[str, tuple[WorkerReport, float]] = {}
        self._before: dict[str, str | None] = {}
        """The instance that reported under each name before the current one."""
        self._warned: set[str] = set()

    def report(self, worker_id: str, report: WorkerReport) -> None:
        previous = self._reports.get(worker_id)
        if previous is not None and previous[0].instance != report.instance:
            if self._before.get(worker_id) == report.instance and worker_id not in self._warned:
                # A, B, A: not a restart but two live workers, counted as one by the gate
                self._warned.add(worker_id)
                log.warning(
                    "two workers report under one name: give each its own WORKER_NAME",
                    extra={"worker": worker_id},
                )
            self._before[worker_id] = previous[0].instance
        self._reports[worker_id] = (report, time.monotonic())

    def fresh(self) -> dict[str, WorkerReport]:
        """The workers heard from in the last STALE_AFTER seconds."""
        cutoff = time.monotonic() - STALE_AFTER
        for worker_id in [w for w, (_, at) in self._reports.items() if at < cutoff]:
            del self._reports[worker_id]
        return {worker_id: report for worker_id, (report, _) in self._reports.items()}

    def public(self) -> list[dict]:
        now = time.monotonic()
        self.fresh()
        return [
            {"worker_id": worker_id, **report.model_dump(), "seen_seconds_ago": round(now - at, 1)}
            for worker_id, (report, at) in sorted(self._reports.items())
        ]
