"""What `/readyz` checks: the CRM file takes writes, the worker answers its health endpoint
under our agent name, the LiveKit server answers and, with the phone line on, LiveKit's SIP
service is healthy and the inbound trunk and its dispatch rule are provisioned."""

from __future__ import annotations

import asyncio

import aiohttp
import httpx

from app.crm import connect
from app.settings import Settings
from app.telephony import provisioning, sip_ping

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


async def check_sip(settings: Settings) -> str | None:
    """The SIP service answers a SIP OPTIONS, and LiveKit holds our trunk and rule."""
    try:
        status = await sip_ping.ping(settings.sip_port, timeout=TIMEOUT.read)
    except (TimeoutError, OSError):
        return f"SIP service not answering on port {settings.sip_port}"
    if not status.startswith("SIP/2.0 200"):
        return f"SIP service answered {status[:40]!r}"
    try:
        async with settings.livekit_api(
            timeout=aiohttp.ClientTimeout(total=TIMEOUT.read),
        ) as lk:
            trunk = await provisioning.inbound_trunk_id(lk)
            rule = await provisioning.dispatch_rule_id(lk)
    except Exception:  # noqa: BLE001 - any failure means "SIP API not answering"
        return "LiveKit's SIP API not answering"
    if trunk is None or rule is None:
        return "inbound trunk not provisioned yet (logs/telephony.log)"
    return None


async def readiness(settings: Settings) -> dict[str, str | None]:
    """The parts this container is responsible for: the CRM file (where the API runs), its own
    worker when it runs one (RUN_WORKER; workers on other machines answer their own /readyz),
    the LiveKit server it uses, and the SIP service with the phone line on."""
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        checks = {"crm": asyncio.to_thread(check_crm, settings)}
        if settings.run_worker:
            checks["agent_worker"] = check_worker(settings, client)
        checks["livekit"] = check_livekit(settings, client)
        if settings.phone_line:
            checks["sip"] = check_sip(settings)
        results = await asyncio.gather(*checks.values())
    return dict(zip(checks, results, strict=True))
