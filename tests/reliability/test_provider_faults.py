"""Provider faults in real calls: the provider double fails or slows one stage (STT, LLM, TTS)
while the bundle's worker serves a caller. A passing fault is absorbed by the plugins' retries
and the caller is answered; a stage that stays down ends the call with a spoken apology in the
caller's language, a callback ticket and an outcome that names the stage. Never a silent call.
"""

from __future__ import annotations

import pytest

from agent.holding import HOLD_LINES
from agent.notices import apology
from tests.e2e.bundle import Bundle
from tests.provider_double.client import ProviderDouble
from tests.reliability.e2e_flow import (
    FRAMES_OF_SPEECH,
    agent_turns,
    ended_call,
    greeted_caller,
    speak,
)

QUESTION = {
    "en": "Hello, I have a question for you today.",
    "ar": "مرحبا، عندي سؤال لك اليوم.",
}
REPLY = {
    "en": "Certainly, I am happy to answer your question.",
    "ar": "بالتأكيد، يسعدني أن أجيب عن سؤالك.",
}
MAX_DEAD_AIR = 15.0
"""Seconds from the end of the caller's sentence to the first sound when a stage is down (the
retries take about 4 s; the rest is slack for a loaded CI machine)."""


def answers(language: str) -> list[dict]:
    return [{"match": {"last_role": "user"}, "reply": {"text": REPLY[language]}}]


def faults_hit(double: ProviderDouble, endpoint: str) -> int:
    key = {"llm": "chat", "stt": "transcriptions", "tts": "speech"}[endpoint]
    return sum(1 for entry in double.log()[key] if entry.get("fault"))


@pytest.mark.parametrize(
    ("stage", "faults", "delays"),
    [
        ("llm", {"llm": {"status": 500, "times": 2}}, {}),
        ("llm", {"llm": {"hang": True, "times": 1}}, {}),
        ("llm", {}, {"llm_first_token_ms": 4000}),
        ("stt", {"stt": {"status": 500, "times": 2}}, {}),
        ("tts", {"tts": {"status": 500, "times": 2}}, {}),
    ],
    ids=[
        "llm-500-twice",
        "llm-timeout-once",
        "llm-slow-first-token",
        "stt-500-twice",
        "tts-500-twice",
    ],
)
async def test_a_passing_fault_is_absorbed_and_the_caller_is_answered(
    bundle: Bundle, double: ProviderDouble, stage: str, faults: dict, delays: dict
):
    language = "en"
    await double.ascript(answers(language))
    caller = await greeted_caller(bundle, language=language)
    call_id = caller.call["call_id"]
    try:
        await double.afaults(faults)
        await double.adelays(delays)
        spoke_until = await speak(caller, double, QUESTION[language], language)
        await caller.wait_for_speech(since=spoke_until, frames=FRAMES_OF_SPEECH, timeout=30)
        await double.await_until(
            lambda log: any(
                s["input"] == REPLY[language] and s.get("completed") for s in log["speech"]
            ),
            timeout=30,
        )
        await caller.wait_for_quiet(seconds=1.0)
    finally:
        await caller.hang_up()

    if faults:
        assert faults_hit(double, stage) == faults[stage]["times"]
    if delays:  # the reply really waited for its first token
        chat = [e for e in double.log()["chat"] if e.get("first_chunk_at")]
        assert max(e["first_chunk_at"] - e["time"] for e in chat) >= 4.0
    call = ended_call(bundle, call_id)
    assert call["outcome"] == "caller_hung_up"
    late = stage == "llm" and bool(delays or faults[stage].get("hang"))
    # a reply seconds late is preceded by the persona's hold line (agent.holding)
    expected = f"{HOLD_LINES[language][0]} {REPLY[language]}" if late else REPLY[language]
    assert expected in agent_turns(call)
    assert not [e for e in call["events"] if e["kind"] == "error"]


@pytest.mark.parametrize(
    ("stage", "language"),
    [("tts", "en"), ("llm", "ar")],
    ids=["tts-down", "llm-down"],
)
async def test_a_stage_down_ends_the_call_with_an_apology_and_a_callback(
    bundle: Bundle, double: ProviderDouble, stage: str, language: str
):
    await double.ascript(answers(language))
    caller = await greeted_caller(bundle, language=language, name="Rami", phone="0551230987")
    call_id = caller.call["call_id"]
    try:
        await double.afaults({stage: {"status": 500}})
        spoke_until = await speak(caller, double, QUESTION[language], language)
        await caller.wait_for_speech(since=spoke_until, frames=FRAMES_OF_SPEECH, timeout=40)
        dead_air = min(t for t in caller.heard.loud_times if t >= spoke_until) - spoke_until
        call = ended_call(bundle, call_id, timeout=60)
    finally:
        await caller.hang_up()

    assert dead_air < MAX_DEAD_AIR, f"{dead_air:.1f} s of silence before the apology"
    assert faults_hit(double, stage) >= 2  # the framework retried before giving up
    assert call["status"] == "ended"
    assert call["outcome"] == f"{stage}_providers_failed"
    tickets = bundle.api("GET", "/api/tickets", operator=True, params={"category": "callback"})
    assert tickets.status_code == 200, tickets.text
    [ticket] = [t for t in tickets.json() if t["call_id"] == call_id]
    # the caller typed a number (a claim): the callback waits on the call for an operator
    assert ticket["customer_id"] is None and call["caller_phone"] == "+966551230987"
    unlinked = bundle.api("GET", "/api/calls/unlinked", operator=True).json()
    assert [t["id"] for c in unlinked if c["id"] == call_id for t in c["tickets"]] == [ticket["id"]]
    assert ticket["priority"] == "high"
    said = apology(language, ticket["number"])
    assert agent_turns(call)[-1] == said
    error = next(e for e in call["events"] if e["kind"] == "error")
    assert error["data"]["stage"] == stage
    if stage != "tts":  # the caller's voice is up: the apology is spoken by it (by sentence)
        spoken = "".join(s["input"] for s in double.log()["speech"] if s.get("completed"))
        assert "".join(said.split()) in "".join(spoken.split())
