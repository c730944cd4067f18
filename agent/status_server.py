"""The worker's status endpoint at AGENT_HEALTH_URL, which the API's `/readyz` reads.

LiveKit's own health server answers OK while the worker is still (re)connecting, and its
`/worker` does not say whether the worker is registered. A call placed in that window is never
dispatched, so readiness needs "registered under our name right now": that is what this serves.
LiveKit's health server moves to a free port of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from livekit.agents import AgentServer

from app.readiness import worker_problem

logger = logging.getLogger("ornina.agent.status")

UNREGISTERED = "unregistered"
MAX_ROOMS = 1000


def worker_status(server: AgentServer, agent_name: str) -> dict:
    """Registration, and the call slots the API's worker gate counts before it mints a token:
    `calls` are the calls in progress plus those accepted and still starting, `max_calls` the
    worker's capacity (AGENT_MAX_CONCURRENT_CALLS); `full` when no slot is free, the moment the
    worker refuses job requests (LiveKit then has no other worker to offer the call to)."""
    # AgentServer sets `_connecting` from the start of each connection attempt until the
    # server accepts the registration (livekit-agents 1.8.9, pinned); `id` stays
    # "unregistered" until the first registration.
    connecting = getattr(server, "_connecting", False)
    registered = server.id != UNREGISTERED and not connecting
    active = len(server.active_jobs)
    calls = getattr(server, "calls_in_progress", active)
    max_calls = getattr(server, "max_calls", None)
    return {
        "agent_name": agent_name,
        "registered": registered,
        "worker_id": server.id if registered else None,
        "draining": server.draining,
        "active_jobs": active,
        "calls": calls,
        "max_calls": max_calls,
        "full": max_calls is not None and calls >= max_calls,
        # the API's gate stops counting a call it admitted once its room shows up here
        "rooms": [job.job.room.name for job in server.active_jobs][:MAX_ROOMS],
    }


CrmCheck = Callable[[], Awaitable[str | None]]
"""Why this worker cannot reach the CRM, None when it can."""


def status_app(server: AgentServer, agent_name: str, crm_check: CrmCheck) -> web.Application:
    async def health(_: web.Request) -> web.Response:
        status = worker_status(server, agent_name)
        if status["draining"]:
            return web.Response(status=503, text="draining: no new calls")
        if not status["registered"]:
            return web.Response(status=503, text="not registered with LiveKit")
        return web.Response(text="OK")

    async def worker(_: web.Request) -> web.Response:
        return web.json_response(worker_status(server, agent_name))

    async def readyz(_: web.Request) -> web.Response:
        """This worker's part, for a worker-only container (README, "Deployment shapes"):
        registered with LiveKit under our agent name, and the CRM in reach (its file, or the
        API it reports to)."""
        status = worker_status(server, agent_name)
        checks = {"agent_worker": worker_problem(status, agent_name), "crm": await crm_check()}
        summary = {part: problem or "ok" for part, problem in checks.items()}
        failing = [f"{part}: {problem}" for part, problem in checks.items() if problem]
        body = {"checks": summary, "calls": status["calls"], "max_calls": status["max_calls"]}
        if failing:
            message = "not ready: " + "; ".join(failing)
            error = {"code": "not_ready", "message": message, **body}
            return web.json_response({"error": error}, status=503)
        return web.json_response({"status": "ready", **body})

    app = web.Application()
    app.add_routes([web.get("/", health), web.get("/worker", worker), web.get("/readyz", readyz)])
    return app


async def serve_status(
    server: AgentServer, agent_name: str, host: str, port: int, crm_check: CrmCheck
) -> web.AppRunner:
    runner = web.AppRunner(status_app(server, agent_name, crm_check), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host or None, port).start()
    logger.info("worker status endpoint listening", extra={"port": port})
    return runner
