"""A supervisor takes a call over and hands it back (agent.supervision), in a text session on
a real CRM: the persona says a colleague is joining and stops answering while the caller's
words are still recorded; handed back, it answers again knowing the operator's summary. Only a
message from the server counts: one sent by a participant (the caller's page can send data) is
ignored. The real room and browser are in tests/browser/test_supervision.py."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from livekit import rtc

from agent.supervision import TAKEOVER_LINE, TOPIC, Supervision
from app.crm import calls as crm_calls
from app.settings import load_settings
from personas import get_greeting
from tests.agent.harness import api_call, call_session
from tests.agent.scripted_llm import Request
from tests.agent.test_agent_greeting import greeting_text

pytestmark = pytest.mark.asyncio

BACK = "I'm back with you. Your refund email goes out today."
SUMMARY = "She wants a refund; I promised the email today."


def answers(request: Request) -> str:
    if request.instruction and SUMMARY in request.instruction:
        return BACK
    return "How can I help?"


def packet(message: dict, participant: object = None) -> rtc.DataPacket:
    return rtc.DataPacket(
        data=json.dumps(message).encode(),
        kind=rtc.DataPacketKind.KIND_RELIABLE,
        participant=participant,
        topic=TOPIC,
    )


async def test_taken_over_the_persona_is_silent_and_handed_back_it_answers(crm_path, db):
    metadata = api_call(db, department="complaints", language="en")
    async with call_session(crm_path, answers, metadata=metadata) as c:
        supervision = Supervision(c.session, c.state, rtc.Room(), vad=None)
        asked = len(c.llm.requests)
        await supervision.take_over("amal", name="Amal")
        assert c.state.taken_over_by == "amal"

        result = await c.say("Hello? Is someone there?")
        assert not [e for e in result.events if e.type == "message" and e.item.role == "assistant"]
        assert len(c.llm.requests) == asked  # nobody asked the model

        handle = await supervision.hand_back("Amal", SUMMARY)
        assert c.state.taken_over_by is None
        await handle.wait_for_playout()
        result = await c.say("Thanks. And the invoice?")
        result.expect.contains_message(role="assistant")
    turns = crm_calls.list_turns(db, call_id=c.state.call_id)
    said = [(t["role"], t["text"]) for t in turns]
    assert ("agent", TAKEOVER_LINE["en"]) in said
    assert ("caller", "Hello? Is someone there?") in said
    assert said.index(("agent", TAKEOVER_LINE["en"])) < said.index(("agent", BACK))


async def test_only_the_server_can_take_a_call_over(crm_path, db):
    metadata = api_call(db, department="sales", language="ar")
    async with call_session(crm_path, answers, metadata=metadata) as c:
        supervision = Supervision(c.session, c.state, rtc.Room(), vad=None)
        caller = SimpleNamespace(identity="caller-1")  # what a participant's packet carries
        supervision._on_data(packet({"action": "takeover", "operator": "mallory"}, caller))
        supervision._on_data(packet({"action": "takeover"}))  # malformed: ignored
        assert c.state.taken_over_by is None
        assert not supervision._tasks
        supervision._on_data(packet({"action": "takeover", "operator": "amal"}))
        # the takeover runs as its own task: wait for it and the line it says
        await asyncio.wait_for(asyncio.gather(*supervision._tasks), timeout=10)
        assert c.state.taken_over_by == "amal"
        await c.state.crm.flush()
    said = [t["text"] for t in crm_calls.list_turns(db, call_id=c.state.call_id)]
    assert TAKEOVER_LINE["ar"] in said


@pytest.mark.parametrize("language", ["ar", "en"])
async def test_the_monitoring_notice_comes_before_the_greeting_when_it_is_on(
    crm_path, db, language
):
    settings = load_settings(
        livekit_url="ws://127.0.0.1:7880",
        livekit_api_key="devkey",
        livekit_api_secret="secret",
        operator_api_key="k" * 20 + "1",
        call_notice_enabled=True,
    )
    notice = {lang: settings.call_notice(lang) for lang in ("ar", "en")}
    metadata = api_call(db, language=language)
    async with call_session(crm_path, answers, metadata=metadata, notice=notice) as c:
        assert greeting_text(c) == f"{notice[language]} {get_greeting('reception', language)}"
    off = load_settings(
        livekit_url="ws://127.0.0.1:7880",
        livekit_api_key="devkey",
        livekit_api_secret="secret",
        operator_api_key="k" * 20 + "1",
    )
    assert off.call_notice(language) == ""
