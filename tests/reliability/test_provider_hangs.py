"""Hung providers in real calls: the provider double accepts a request (200 and headers) and then
sends nothing, while the bundle's worker serves a caller. Each persona has two voices here
(ElevenLabs, then OpenAI TTS, both at the double). A hung first voice hands the reply to the
second within its bound; with every voice hung, or the LLM or STT hung, the caller hears the
apology (in the local voice when the voices are down; a hung LLM is covered by hold lines
until then, agent.holding), a callback ticket is opened and the
outcome names the stage. The silence the caller hears is measured from the end of their
sentence to the first sound; its bound is a safety net, the behaviour is the claim.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.holding import HOLD_AFTER, HOLD_LINES
from agent.notices import apology
from agent.providers import STT_ANSWER, TTS_FIRST_AUDIO
from tests.e2e.bundle import Bundle, running_bundle
from tests.provider_double.client import ProviderDouble
from tests.reliability.e2e_flow import (
    FRAMES_OF_SPEECH,
    agent_turns,
    ended_call,
    greeted_caller,
    speak,
)

QUESTION = "Hello, I have a question for you today."
REPLY = "Certainly, I am happy to answer your question."
TURN = 6.0
"""Seconds of a healthy turn on a loaded CI machine (end of speech, transcription, the reply's
first token and first audio), on top of which a hang may add its bound."""
BOUND = {
    "tts": 2 * TTS_FIRST_AUDIO,  # both voices, one after the other
    "stt": STT_ANSWER,
    "llm": HOLD_AFTER,  # the persona says a hold line while the LLM is late
}
"""What a hung stage adds to the silence before the caller hears something."""


@pytest.fixture(scope="module")
def bundle(double: ProviderDouble, request: pytest.FixtureRequest) -> Iterator[Bundle]:
    voices = {"ELEVEN_API_KEY": "el-test", "ELEVENLABS_BASE_URL": double.base_url}
    with running_bundle(double.base_url, Path(request.node.name).stem, extra_env=voices) as running:
        yield running


def answers() -> list[dict]:
    return [{"match": {"last_role": "user"}, "reply": {"text": REPLY}}]


async def test_a_hung_first_voice_hands_the_reply_to_the_second(
    bundle: Bundle, double: ProviderDouble
):
    await double.ascript(answers())
    caller = await greeted_caller(bundle, language="en")
    call_id = caller.call["call_id"]
    try:
        greeting = [s for s in (await double.alog())["speech"] if s.get("completed")]
        await double.afaults({"elevenlabs": {"stall": "headers"}})
        spoke_until = await speak(caller, double, QUESTION, "en")
        await caller.wait_for_speech(since=spoke_until, frames=FRAMES_OF_SPEECH, timeout=30)
        silence = min(t for t in caller.heard.loud_times if t >= spoke_until) - spoke_until
        await double.await_until(
            lambda log: any(
                s["input"] == REPLY and s.get("completed") and not s.get("provider")
                for s in log["speech"]
            ),
            timeout=30,
        )
        await caller.wait_for_quiet(seconds=1.0)
    finally:
        await caller.hang_up()

    # the greeting was the persona's first voice; the reply, its second
    assert greeting and all(s.get("provider") == "elevenlabs" for s in greeting)
    hung = [s for s in double.log()["speech"] if s.get("fault")]
    assert hung and hung[0]["provider"] == "elevenlabs" and hung[0]["input"].strip() == REPLY
    print(f"silence before the second voice: {silence:.1f} s")
    assert silence < TURN + TTS_FIRST_AUDIO, f"{silence:.1f} s of silence"
    call = ended_call(bundle, call_id)
    assert call["outcome"] == "caller_hung_up"
    assert REPLY in agent_turns(call)
    assert not [e for e in call["events"] if e["kind"] == "error"]


@pytest.mark.parametrize(
    ("stage", "faults"),
    [
        ("tts", {"elevenlabs": {"stall": "headers"}, "tts": {"stall": "headers"}}),
        ("llm", {"llm": {"stall": "headers"}}),
        ("stt", {"stt": {"stall": "headers"}}),
    ],
    ids=["every-voice-hung", "llm-hung", "stt-hung"],
)
async def test_a_hung_stage_ends_the_call_with_an_apology_and_a_callback(
    bundle: Bundle, double: ProviderDouble, stage: str, faults: dict
):
    await double.ascript(answers())
    caller = await greeted_caller(bundle, language="en", name="Rami", phone="0551230987")
    call_id = caller.call["call_id"]
    try:
        await double.afaults(faults)
        spoke_until = await speak(caller, double, QUESTION, "en")
        await caller.wait_for_speech(since=spoke_until, frames=FRAMES_OF_SPEECH, timeout=60)
        silence = min(t for t in caller.heard.loud_times if t >= spoke_until) - spoke_until
        call = ended_call(bundle, call_id, timeout=60)
    finally:
        await caller.hang_up()

    print(f"{stage} hung: {silence:.1f} s of silence before the first sound")
    assert silence < TURN + BOUND[stage], f"{silence:.1f} s of silence before the first sound"
    assert call["outcome"] == f"{stage}_providers_failed"
    tickets = bundle.api("GET", "/api/tickets", operator=True, params={"category": "callback"})
    assert tickets.status_code == 200, tickets.text
    [ticket] = [t for t in tickets.json() if t["call_id"] == call_id]
    assert ticket["priority"] == "high"
    said = apology("en", ticket["number"])
    assert agent_turns(call)[-1] == said
    assert REPLY not in agent_turns(call)
    error = next(e for e in call["events"] if e["kind"] == "error")
    assert error["data"]["stage"] == stage
    spoken = "".join(s["input"] for s in double.log()["speech"] if s.get("completed"))
    if stage == "llm":  # the silence was broken by the persona's hold line
        assert HOLD_LINES["en"][0] in spoken
    if stage == "tts":  # the voices are down: the apology was the local voice's
        assert "".join(said.split()) not in "".join(spoken.split())
    else:  # the persona's voice is up and speaks it
        assert "".join(said.split()) in "".join(spoken.split())
