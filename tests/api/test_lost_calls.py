"""Calls whose agent is gone (app/lost_calls.py), against a real LiveKit server and the real API
process: a call with no agent is ended `agent_lost`, but not while an operator who took it over
speaks to the caller in its room, and a second call row of one room (`room#suffix`) is looked
up by its LiveKit room."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from livekit import rtc

from app.crm import calls as crm_calls
from app.crm.clock import iso, now
from app.livekit_tokens import new_operator_identity, takeover_token
from app.settings import load_settings
from tests.api.conftest import RunningApi, running_api
from tests.support import running_livekit


@pytest.fixture(scope="module")
def livekit() -> Iterator[str]:
    with running_livekit() as url:
        yield url


@pytest.fixture
def api(livekit: str) -> Iterator[RunningApi]:
    with running_api({"LIVEKIT_URL": livekit, "LOST_CALLS_CHECK_SECONDS": "0.5"}) as running:
        yield running


def call_in_progress(api: RunningApi, room: str) -> int:
    """A call its agent joined a minute ago (past the check's grace period)."""
    db = api.db()
    try:
        call = crm_calls.create_call(db, room=room, language="en", department="reception")
        crm_calls.mark_agent_joined(db, call_id=call["id"], worker="gone")
        db.execute(
            "UPDATE calls SET agent_joined_at = ? WHERE id = ?",
            [iso(now() - timedelta(minutes=1)), call["id"]],
        )
        db.conn.commit()
    finally:
        db.close()
    return call["id"]


def record(api: RunningApi, call_id: int) -> dict:
    return api.client().get(f"/api/calls/{call_id}").json()


async def ended(api: RunningApi, call_id: int, timeout: float = 60.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while (found := record(api, call_id))["status"] != "ended":
        assert asyncio.get_running_loop().time() < deadline, f"call {call_id} still {found}"
        await asyncio.sleep(0.2)
    return found


async def test_a_call_without_its_agent_is_hung_up_unless_an_operator_speaks_in_it(
    api: RunningApi, livekit: str
):
    settings = load_settings(
        livekit_url=livekit,
        livekit_api_key="devkey",
        livekit_api_secret="secret",
        operator_api_key="k" * 20 + "1",
    )
    room = f"call-{uuid.uuid4().hex[:12]}"
    operator = rtc.Room()
    await operator.connect(
        livekit, takeover_token(settings, room=room, identity=new_operator_identity())
    )
    try:
        taken = call_in_progress(api, room)
        second_row = call_in_progress(api, f"{room}#{uuid.uuid4().hex[:8]}")
        lost = call_in_progress(api, f"call-{uuid.uuid4().hex[:12]}")  # no room at all
        found = await ended(api, lost)
        assert found["outcome"] == "agent_lost"
        assert any(e["kind"] == "call_lost" for e in found["events"])
        # checked on the same passes: the operator's room still holds its calls
        assert record(api, taken)["status"] == "active"
        assert record(api, second_row)["status"] == "active"
    finally:
        await operator.disconnect()
    # the operator left and no agent came back: both rows of the room are ended
    for call_id in (taken, second_row):
        found = await ended(api, call_id)
        assert found["outcome"] == "agent_lost"
        lost_events = [e for e in found["events"] if e["kind"] == "call_lost"]
        assert lost_events and "no agent" in str(lost_events[0]), lost_events
