"""The worker's configuration: agent name and health address from settings, load by call
count, and the health endpoint the API's /readyz reads; with every call slot in use, a real
bundle refuses the next caller up front (503) and the worker refuses a job it cannot serve."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import httpx
import pytest

import agent.worker as worker_module
from agent.worker import build_server, call_load, health_address
from app.livekit_tokens import caller_token, job_metadata, new_room_name
from app.settings import Settings
from tests.e2e.bundle import Bundle, running_bundle
from tests.e2e.caller import Caller
from tests.provider_double.client import ProviderDouble
from tests.support import wait_until

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
            "calls": 0,
            "max_calls": settings.agent_max_concurrent_calls,
            "full": False,
            "rooms": [],
        }
    finally:
        await server.aclose()
        for pending in list(worker_module._status_servers):
            await (await pending).cleanup()
        for loop_task in list(worker_module._background):
            loop_task.cancel()
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


# -- one call slot, a real bundle ------------------------------------------------------------


@pytest.fixture(scope="module")
def one_slot() -> Iterator[Bundle]:
    with (
        ProviderDouble() as double,
        running_bundle(
            double.base_url, "worker-one-slot", extra_env={"AGENT_MAX_CONCURRENT_CALLS": "1"}
        ) as bundle,
    ):
        yield bundle


def _worker(bundle: Bundle) -> dict:
    return httpx.get(f"{bundle.env['AGENT_HEALTH_URL']}/worker", timeout=5).json()


async def test_a_full_worker_turns_the_next_caller_away_before_a_token(one_slot: Bundle):
    first = Caller(one_slot.api_url)
    await first.join(language="en")
    try:
        await first.wait_for_agent(timeout=20)
        await first.wait_for_speech(since=first.joined_at, timeout=30)
        assert _worker(one_slot) | {"worker_id": None} == {
            "agent_name": one_slot.agent_name,
            "registered": True,
            "worker_id": None,
            "draining": False,
            "active_jobs": 1,
            "calls": 1,
            "max_calls": 1,
            "full": True,
            "rooms": [first.call["room"]],
        }
        async with httpx.AsyncClient(timeout=10) as client:
            second = await client.post(f"{one_slot.api_url}/api/calls", json={"language": "en"})
        assert second.status_code == 503, second.text
        assert second.json() == {
            "error": {
                "code": "not_ready",
                "message": "no agent can answer right now (the agent is busy: all 1 call slots "
                "are in use); try again in a few seconds",
            }
        }
        assert int(second.headers["Retry-After"]) > 0
    finally:
        await first.hang_up()
    # the slot comes back once the call has ended (the gate counts its own admission a while)
    wait_until(lambda: _worker(one_slot)["calls"] == 0, timeout=30, what="the call to end")

    def admitted() -> bool:
        response = one_slot.api("POST", "/api/calls", json={"language": "en"})
        assert response.status_code in (201, 503), response.text
        return response.status_code == 201

    wait_until(admitted, timeout=40, interval=0.5, what="a call start to be admitted again")


async def test_a_call_behind_the_gates_back_gets_no_agent(one_slot: Bundle):
    """Why the gate counts slots: a token minted without it (a second API process, a SIP
    rule) while the only worker is full. The worker has told LiveKit it is full, so LiveKit
    offers it no job and, with no other worker, never dispatches one: the caller hears
    silence."""
    settings = Settings(
        _env_file=None,
        livekit_url=one_slot.livekit_url,
        livekit_api_key="devkey",
        livekit_api_secret="secret",
        operator_api_key=one_slot.operator_key,
        agent_name=one_slot.agent_name,
    )
    wait_until(lambda: _worker(one_slot)["calls"] == 0, timeout=30, what="a free slot")

    def admitted() -> dict | None:
        response = one_slot.api("POST", "/api/calls", json={"language": "en"})
        return response.json() if response.status_code == 201 else None

    holder = Caller(one_slot.api_url)
    await holder.join_call(wait_until(admitted, timeout=40, interval=0.5, what="a call start"))
    room = new_room_name()
    metadata = job_metadata(call_id=0, department="reception", language="en", name=None, phone=None)
    token = caller_token(settings, room=room, metadata=metadata, display_name=None)
    extra = Caller(one_slot.api_url)
    try:
        await holder.wait_for_agent(timeout=20)
        wait_until(lambda: _worker(one_slot)["full"], timeout=10, what="the worker to be full")
        await extra.join_call({"livekit_url": one_slot.livekit_url, "token": token})
        wait_until(
            lambda: any(
                room in line and "no worker is available" in line
                for line in one_slot.log("livekit").splitlines()
            ),
            timeout=20,
            what="LiveKit to find no worker for the call",
        )
        assert extra.agent_joined_at is None
        assert room not in one_slot.log("agent")
    finally:
        await extra.hang_up()
        await holder.hang_up()


def test_a_full_worker_refuses_a_job_request_and_says_so(caplog) -> None:
    """The framework's own availability check, through our load, on a worker whose slots are
    all taken (running or accepted and starting)."""
    server = build_server(Settings(_env_file=None, **BASE, agent_max_concurrent_calls=2))
    server._devmode, server._worker_load, server._reserved_slots = False, 0.0, 1
    with caplog.at_level("WARNING", logger="ornina.agent.worker"):
        assert server._is_available()
        server._reserved_slots = 2
        assert not server._is_available()
    refusals = [r for r in caplog.records if r.getMessage().startswith("refusing a call")]
    assert len(refusals) == 1
    assert (refusals[0].calls, refusals[0].max_calls) == (2, 2)
