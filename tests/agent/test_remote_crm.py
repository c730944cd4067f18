"""A worker without the CRM file (agent/crm.py, `RemoteCallCrm`) against a real API process:
the same operations and answers as in-process, in order; writes kept and retried while the API
restarts, applied once; a bounded buffer that says so in the log when it overflows."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from agent import crm as agent_crm
from agent.call_state import open_call
from agent.crm import RemoteCallCrm
from agent.metadata import parse_metadata
from app.crm import NotFound
from app.crm import calls as crm_calls
from app.crm import customers as crm_customers
from app.crm import identity as crm_identity
from app.crm import services as crm_services
from app.crm.identity import Verification
from app.crm.worker_operations import CrmUnavailable
from tests.api.conftest import RunningApi, running_api
from tests.support import free_port


def remote(api_url: str, key: str, **options: object) -> RemoteCallCrm:
    return RemoteCallCrm(api_url, key, **options)


def start_call(api: RunningApi, **body: object) -> int:
    response = api.client(key=None).post("/api/calls", json=body)
    assert response.status_code == 201, response.text
    return response.json()["call_id"]


def transcript(api: RunningApi, call_id: int) -> list[str]:
    call = api.client().get(f"/api/calls/{call_id}").json()
    return [turn["text"] for turn in call["transcript"]]


async def logged(caplog: pytest.LogCaptureFixture, text: str, timeout: float = 15.0) -> None:
    """Wait (letting the event loop run) until a log line contains `text`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not any(text in record.getMessage() for record in caplog.records):
        assert asyncio.get_running_loop().time() < deadline, f"no log line with {text!r}"
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def api():
    with running_api() as running:
        yield running


async def test_a_call_opens_and_records_through_the_api_as_in_process(api: RunningApi):
    call_id = start_call(api, language="en", department="sales", name="Lina")
    crm = remote(api.base_url, api.service_key)
    try:
        state = await open_call(
            crm,
            parse_metadata(f'{{"call_id": {call_id}, "department": "sales", "language": "en"}}'),
            room="room-remote-1",
            default_language="ar",
        )
        assert state.call_id == call_id
        assert state.language == "en"
        assert state.identity_level == "claimed"  # a name was given, not proven
        joined = await crm.run(crm_calls.mark_agent_joined, call_id=call_id, worker="w-remote")
        assert joined["worker"] == "w-remote"
        for n in range(30):
            crm.submit(crm_calls.add_turn, call_id=call_id, role="caller", text=f"turn {n}")
        services = await crm.run(crm_services.list_services, active_only=True)
        assert services and all(s["active"] for s in services)
        # the answer waited for the writes queued before it
        assert transcript(api, call_id) == [f"turn {n}" for n in range(30)]
        verification = await crm.run(
            crm_identity.verify_code,
            call_id=call_id,
            phone="+966500000001",
            code="123456",
            region="SA",
        )
        assert isinstance(verification, Verification)
        assert verification.result == "wrong"
        with pytest.raises(NotFound):
            await crm.run(crm_customers.get_customer, customer_id=987_654_321)
    finally:
        await crm.aclose()


async def test_a_phone_call_is_opened_by_the_worker_through_the_api(api: RunningApi):
    crm = remote(api.base_url, api.service_key)
    try:
        from app.crm.call_opening import OpenedCall, PhoneSide, open_call_record

        opened = await crm.run(
            open_call_record,
            call_id=None,
            department="reception",
            language=None,
            name=None,
            claimed_phone=None,
            problems=[],
            room="sip-room-remote",
            default_language="en",
            region="SA",
            phone=PhoneSide(caller_number="+966500000002", dialled_number="+15550100"),
            caller_id="",
        )
        assert isinstance(opened, OpenedCall)
        assert opened.call["channel"] == "phone"
        assert opened.call["dialled_number"] == "+15550100"
        assert opened.customer is None
    finally:
        await crm.aclose()


async def test_writes_wait_for_a_restarting_api_and_land_once(tmp_path: Path, caplog):
    caplog.set_level(logging.INFO, logger="ornina.agent.crm")
    port = free_port()
    env = {"CRM_DB_PATH": str(tmp_path / "crm.sqlite3"), "API_PORT": str(port)}
    with running_api(env) as first:
        key = first.service_key
        env["WORKER_SERVICE_KEY"] = key
        env["OPERATOR_API_KEY"] = first.operator_key
        call_id = start_call(first, language="en")
        crm = remote(first.base_url, key)
        for n in range(5):
            crm.submit(crm_calls.add_turn, call_id=call_id, role="caller", text=f"before {n}")
        await crm.flush()
    # the API is down: the call goes on, its turns are kept
    for n in range(5):
        crm.submit(crm_calls.add_turn, call_id=call_id, role="agent", text=f"during {n}")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
    await logged(caplog, "CRM API not answering")
    with running_api(env) as second:
        await crm.flush()
        for n in range(3):
            crm.submit(crm_calls.add_turn, call_id=call_id, role="caller", text=f"after {n}")
        await crm.aclose()
        assert transcript(second, call_id) == [
            *(f"before {n}" for n in range(5)),
            *(f"during {n}" for n in range(5)),
            *(f"after {n}" for n in range(3)),
        ]
    await logged(caplog, "CRM API answering again")


async def test_the_buffer_is_bounded_and_says_so(tmp_path: Path, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="ornina.agent.crm")
    port = free_port()
    env = {"CRM_DB_PATH": str(tmp_path / "crm.sqlite3"), "API_PORT": str(port)}
    with running_api(env) as api:
        call_id = start_call(api, language="en")
        env["WORKER_SERVICE_KEY"] = api.service_key
        env["OPERATOR_API_KEY"] = api.operator_key
    crm = remote(f"http://127.0.0.1:{port}", env["WORKER_SERVICE_KEY"], buffer_limit=10)
    for n in range(15):
        crm.submit(crm_calls.add_turn, call_id=call_id, role="caller", text=f"turn {n}")
    full = [r.getMessage() for r in caplog.records if "write buffer full" in r.getMessage()]
    assert len(full) == 5, full
    assert "CRM_WRITE_BUFFER=10" in full[0]
    # an answer someone waits for is not held forever: the caller hears an apology
    monkeypatch.setattr(agent_crm, "RUN_DEADLINE", 0.5)
    with pytest.raises(CrmUnavailable):
        await crm.run(crm_calls.get_call, call_id=call_id)
    # a write the caller stopped waiting for stays queued, in order: "noted", not lost
    with pytest.raises(CrmUnavailable, match="kept"):
        await crm.run(crm_calls.add_turn, call_id=call_id, role="agent", text="late")
    with running_api(env) as api:
        await crm.aclose()
        assert transcript(api, call_id) == [*(f"turn {n}" for n in range(10)), "late"]


async def test_a_wrong_service_key_is_logged_and_never_retried_forever(api: RunningApi, caplog):
    caplog.set_level(logging.INFO, logger="ornina.agent.crm")
    crm = remote(api.base_url, "not-the-key-0123456789-0123456789-0123")
    with pytest.raises(CrmUnavailable):
        await crm.run(crm_calls.get_call, call_id=1)
    crm.submit(crm_calls.add_event, call_id=1, kind="probe")
    await crm.aclose()
    refused = [r for r in caplog.records if "refused the call's operations" in r.getMessage()]
    assert refused and refused[0].status == 401


def _proxy_page(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, text="<html>Welcome to nginx!</html>")


@pytest.mark.parametrize(
    "transport",
    [
        pytest.param(None, id="nothing listening"),
        pytest.param(httpx.MockTransport(_proxy_page), id="a proxy's page instead of the API"),
    ],
)
async def test_an_api_that_never_answers_bounds_the_retries_and_the_calls_end(
    transport, caplog, monkeypatch
):
    caplog.set_level(logging.INFO, logger="ornina.agent.crm")
    monkeypatch.setattr(agent_crm, "GIVE_UP_AFTER", 1.0)
    monkeypatch.setattr(agent_crm, "CLOSE_DEADLINE", 30.0)
    crm = remote(
        f"http://127.0.0.1:{free_port()}",
        "a-service-key-0123456789-0123456789-0123",
        transport=transport,
    )
    crm.submit(crm_calls.add_turn, call_id=1, role="caller", text="never saved")
    await logged(caplog, "CRM API not answering")
    # the batch is given up with an error line, not retried for ever ...
    await logged(caplog, "the call's operations are lost")
    # ... so the end of the call does not wait for it
    await asyncio.wait_for(crm.aclose(), 10)


async def test_turns_in_both_languages_with_numbers_and_pauses_arrive_as_spoken(api: RunningApi):
    call_id = start_call(api, language="ar")
    spoken = [
        "مرحبا، أريد عرض سعر لموقع إلكتروني",
        "رقمي هو … ٠٩٤٤ … ١١١ ٢٢٢",
        "My number is … 0944 … 111 222.",
        "Two websites, please — and one mobile app?",
        "نعم",
        'I\'d like 3 × "basic" plans, 10% off.',
    ]
    crm = remote(api.base_url, api.service_key)
    for n, text in enumerate(spoken):
        crm.submit(
            crm_calls.add_turn, call_id=call_id, role="caller" if n % 2 else "agent", text=text
        )
    await crm.aclose()
    assert transcript(api, call_id) == spoken
