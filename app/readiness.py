"""What `/readyz` checks: the CRM file takes writes, the worker answers its health endpoint
under our agent name, and the LiveKit server answers."""

from __future__ import annotations

import asyncio

import httpx

from app.crm import connect
from app.settings import Settings

TIMEOUT = httpx.Timeout(2.0)


def check_crm(settings: Settings) -> str | None:
    if not settings.crm_db_path.exists():
        return "CRM file does not exist"
    try:
        db = connect(settings.crm_db_path)
        try:
            db.conn.execute("BEGIN IMMEDIATE")
            db.conn.execute("ROLLBACK")
        finally:
            db.close()
    except Exception as error:  # noqa: BLE001 - any failure means "not writable"
        return f"CRM not writable: {type(error).__name__}"
    return None


def worker_problem(info: object, agent_name: str) -> str | None:
    """What keeps the worker from taking a call, from its status (agent/status_server.py)."""
    if not isinstance(info, dict):
        return "worker status endpoint not answering"
    if info.get("agent_name") != agent_name:
        return f"worker runs as {info.get('agent_name')!r}, not {agent_name!r}"
    if info.get("draining"):
        return "worker is draining (shutting down)"
    if not info.get("registered"):
        return "worker not registered with LiveKit yet"
    return None


async def check_worker(settings: Settings, client: httpx.AsyncClient) -> str | None:
    """Registered under our agent name right now."""
    try:
        info = (await client.get(f"{settings.agent_health_url}/worker")).json()
    except (httpx.HTTPError, ValueError):
        info = None
    return worker_problem(info, settings.agent_name)


async def check_livekit(settings: Settings, client: httpx.AsyncClient) -> str | None:
    try:
        response = await client.get(settings.livekit_http_url)
    except httpx.HTTPError:
        return "LiveKit server not reachable"
    return None if response.status_code == 200 else f"LiveKit answered {response.status_code}"


async def readiness(settings: Settings) -> dict[str, str | None]:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        crm, worker, livekit = await asyncio.gather(
            asyncio.to_thread(check_crm, settings),
            check_worker(settings, client),
            check_livekit(settings, client),
        )
    return {"crm": crm, "agent_worker": worker, "livekit": livekit}
