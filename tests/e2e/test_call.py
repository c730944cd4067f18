"""Real calls through the bundle: a LiveKit SDK caller, the embedded LiveKit server, the API and
the worker under supervisord, the provider double for STT/LLM/TTS."""

from __future__ import annotations

import asyncio

import pytest

from personas import PERSONAS, PersonaType
from tests.e2e.bundle import Bundle
from tests.e2e.caller import Caller
from tests.e2e.scripts import CALLER_ASKS_PRICE, SALES_PRICE_REPLY, reception_transfers_to_sales
from tests.provider_double.client import ProviderDouble
from tests.support import wait_until


def test_bundle_is_ready_with_the_worker_registered_under_the_agent_name(bundle: Bundle):
    ready = bundle.readyz().json()
    assert ready["status"] == "ready"
    assert ready["checks"] == {"crm": "ok", "agent_worker": "ok", "livekit": "ok"}
    assert bundle.status() == {
        "livekit": "RUNNING",
        "agent": "RUNNING",
        "api": "RUNNING",
        "caddy": "STOPPED",  # public mode only
        # the phone line is off in this bundle (tests/phone runs it)
        "redis": "STOPPED",
        "sip": "STOPPED",
        "telephony": "STOPPED",
    }
    assert f'"agent_name": "{bundle.agent_name}"' in bundle.log("agent") or (
        bundle.agent_name in bundle.log("agent")
    )


async def test_caller_is_answered_within_five_seconds_with_a_spoken_greeting(bundle: Bundle):
    caller = Caller(bundle.api_url)
    await caller.join(language="en")
    try:
        assert await caller.wait_for_agent(timeout=5.0) <= 5.0
        await caller.wait_for_speech(since=caller.joined_at, timeout=20)
        assert caller.heard.loud_frames >= 25
    finally:
        await caller.hang_up()


@pytest.mark.parametrize("language", ["en", "ar"])
async def test_caller_speaks_is_transferred_to_sales_and_the_crm_keeps_the_call(
    bundle: Bundle, double: ProviderDouble, language: str
):
    await double.ascript(reception_transfers_to_sales(language))
    caller = Caller(bundle.api_url)
    await caller.join(language=language, name="Rana")
    call_id = caller.call["call_id"]
    try:
        await caller.wait_for_agent()
        await caller.wait_for_speech(since=caller.joined_at)  # Ahmed's greeting
        await caller.wait_for_quiet()
        await double.autterances([{"text": CALLER_ASKS_PRICE[language], "language": language}])
        spoke_until = await caller.say(CALLER_ASKS_PRICE[language], language)
        await caller.wait_for_speech(since=spoke_until, timeout=30)  # Sarah answers

        sarah_voice = PERSONAS[PersonaType.SALES].openai_voice
        log = await double.await_until(
            lambda log: any(
                s["voice"] == sarah_voice and s["input"] == SALES_PRICE_REPLY[language]
                for s in log["speech"]
            ),
            timeout=30,
        )
        assert log["transcriptions"][0]["duration"] > 1.0
        # raw PCM, no mp3 to decode (agent/providers.py)
        assert {s["response_format"] for s in log["speech"]} == {"pcm"}
        await caller.wait_for_speech(since=spoke_until, frames=75, timeout=30)
        await caller.wait_for_quiet(seconds=1.5)  # the caller listens to the end, then hangs up
    finally:
        await caller.hang_up()

    def ended() -> dict | None:
        call = bundle.api("GET", f"/api/calls/{call_id}", operator=True).json()
        return call if call["status"] == "ended" else None

    call = wait_until(ended, timeout=30, what="the call to be closed in the CRM")
    assert call["personas_visited"] == ["reception", "sales"]
    assert call["duration_seconds"] > 0
    turns = [(t["role"], t["persona"], t["text"]) for t in call["transcript"]]
    assert ("caller", "reception", CALLER_ASKS_PRICE[language]) in turns
    assert ("agent", "sales", SALES_PRICE_REPLY[language]) in turns
    assert turns[0][0:2] == ("agent", "reception")
    transfer = next(e for e in call["events"] if e["kind"] == "transfer")
    assert (transfer["data"]["from"], transfer["data"]["to"]) == ("reception", "sales")
    assert transfer["data"]["reason"] == "wants to buy a website"


async def test_five_simultaneous_callers_are_all_answered(bundle: Bundle):
    callers = [Caller(bundle.api_url) for _ in range(5)]
    languages = ["en", "ar", "en", "ar", "en"]
    await asyncio.gather(
        *(c.join(language=lang) for c, lang in zip(callers, languages, strict=True))
    )
    try:
        await asyncio.gather(*(c.wait_for_agent(timeout=20) for c in callers))
        await asyncio.gather(*(c.wait_for_speech(since=c.joined_at, timeout=40) for c in callers))
        rooms = {c.call["room"] for c in callers}
        assert len(rooms) == 5
    finally:
        await asyncio.gather(*(c.hang_up() for c in callers))
