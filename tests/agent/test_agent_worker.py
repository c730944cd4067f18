"""The worker's configuration: agent name and health address from settings, load by call
count, and the health endpoint the API's /readyz reads."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

import agent.worker as worker_module
from agent.worker import build_server, call_load, health_address
from app.settings import Settings

BASE = {
    "livekit_url": "ws://127.0.0.1:7880",
    "livekit_api_key": "devkey",
    "livekit_api_secret": "secret",
    "operator_api_key": "0123456789abcdef0123",
}


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://127.0.0.1:8081", ("127.0.0.1", 8081)),
        ("http://127.0.0.1:18123", ("127.0.0.1", 18123)),
        ("http://localhost", ("localhost", 8081)),
        ("http://[::1]:9000", ("::1", 9000)),
        ("http://agent.internal:8081", ("", 8081)),
    ],
)
def test_health_address(url: str, address: tuple[str, int]) -> None:
    assert health_address(url) == address


def test_load_is_the_share_of_call_slots() -> None:
    class Busy:
        max_calls = 20
        active_jobs = [object()] * 10

    assert call_load(Busy()) == 0.5  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_health_endpoint_names_the_agent(unused_tcp_port: int, monkeypatch) -> None:
    # the worker exports these to its job processes; keep them out of the other tests
    for name in (
        "LIVEKIT_AGENT_NAME",
        "LIVEKIT_URL",
        "LIVEKIT_API_KEY",
        "LIVEKIT_API_SECRET",
        "SSL_CERT_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        _env_file=None,
        **BASE,
        agent_name="ornina-test-agent",
        agent_health_url=f"http://127.0.0.1:{unused_tcp_port}",
    )
    server = build_server(settings)
    server.update_options(num_idle_processes=0)
    started = asyncio.Event()
    server.on("worker_started", started.set)
    running = asyncio.create_task(server.run(devmode=True, unregistered=True))
    url = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        await asyncio.wait_for(started.wait(), timeout=20)
        async with aiohttp.ClientSession() as http:
            info = await _poll_json(http, f"{url}/worker", deadline=20)
            async with http.get(f"{url}/") as response:
                # never registered (no LiveKit server here): not ready to take calls
                assert response.status == 503
                assert "not registered" in await response.text()
        assert info == {
            "agent_name": "ornina-test-agent",
            "registered": False,
            "worker_id": None,
            "draining": False,
            "active_jobs": 0,
        }
    finally:
        await server.aclose()
        for pending in list(worker_module._background):
            await (await pending).cleanup()
        await asyncio.wait_for(running, timeout=20)


async def _poll_json(http: aiohttp.ClientSession, url: str, deadline: float) -> dict:
    """GET `url` until it answers JSON (the status server starts right after the worker)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline
    while True:
        try:
            async with http.get(url) as response:
                return await response.json()
        except aiohttp.ClientError:
            if loop.time() > give_up:
                raise
        await asyncio.sleep(0.05)
