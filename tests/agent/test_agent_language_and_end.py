"""Switching language mid-call (prompt, STT and voice follow, the CRM records it) and ending
the call politely."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from livekit.agents import DEFAULT_API_CONNECT_OPTIONS, stt

from agent.local_tts import EspeakTTS
from app.crm import calls as crm_calls
from app.crm import customers as crm_customers
from personas import PersonaType
from tests.agent.harness import add_customer, api_call, call_session
from tests.agent.scripted_llm import Reply, Request, call

pytestmark = pytest.mark.asyncio


class NamedSTT(stt.STT):
    """A streaming STT that hears nothing (a text session sends it no audio)."""

    def __init__(self, language: str) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=False))
        self.language = language

    async def _recognize_impl(self, buffer: Any, **kwargs: Any) -> stt.SpeechEvent:
        raise NotImplementedError

    def stream(self, **kwargs: Any) -> stt.RecognizeStream:
        return _Deaf(stt=self, conn_options=DEFAULT_API_CONNECT_OPTIONS)


class _Deaf(stt.RecognizeStream):
    async def _run(self) -> None:
        async for _ in self._input_ch:
            pass


class FakeVoice:
    """Speech models per language, never used in a text session but swapped all the same."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def stt(self, language: str) -> stt.STT:
        self.asked.append(("stt", language))
        return NamedSTT(language)

    def tts(self, persona: PersonaType, language: str) -> EspeakTTS:
        self.asked.append((persona.value, language))
        return EspeakTTS(language=language)


def bilingual(request: Request) -> Reply | str | None:
    text = request.user_text or ""
    if text.startswith("Can we speak English"):
        return call("switch_language", {"language": "en"})
    if text.startswith("عربي"):
        return call("switch_language", {"language": "ar"})
    if text == "That's all, thank you, bye":
        return call("end_call", {"reason": "caller is done"})
    if request.tool_output is not None:
        return "Goodbye, Ali!" if request.tool_output.name == "end_call" else "Sure, of course."
    return "تفضل"


async def test_switch_language_updates_prompt_voice_and_crm(crm_path, db):
    metadata = api_call(db)
    async with call_session(crm_path, bilingual, metadata=metadata) as c:
        voice = FakeVoice()
        c.state.voice = voice
        result = await c.say("Can we speak English please?")
        output = result.expect.contains_function_call_output(is_error=False).event().item.output
        assert "speak only English" in output
        assert c.state.language == "en"
        assert ("stt", "en") in voice.asked and ("reception", "en") in voice.asked
        assert c.agent.stt.language == "en"
        assert "You are Ahmed, the receptionist" in c.agent.instructions

        await c.say("What services do you have?")
        assert "You are Ahmed, the receptionist" in c.llm.requests[-1].system_text

        result = await c.say("Can we speak English again?")
        output = result.expect.contains_function_call_output(is_error=False).event().item.output
        assert "already in English" in output
        # nothing to transcribe in a text session: don't let closing wait for a last transcript
        c.agent.update_options(stt=None)

    call_row = crm_calls.get_call_detail(db, call_id=1)
    assert call_row["language"] == "en"
    [changed] = [e for e in call_row["events"] if e["kind"] == "language_changed"]
    assert changed["data"] == {"from": "ar", "to": "en"}
    languages = [t["language"] for t in call_row["transcript"]]
    assert languages[0] == "ar" and languages[-1] == "en"


async def test_the_callers_language_is_kept_for_next_time(crm_path, db):
    customer = add_customer(db, name="Ali", phone="+966501234567")
    metadata = api_call(db, customer_id=customer["id"])
    async with call_session(crm_path, bilingual, metadata=metadata) as c:
        await c.say("Can we speak English please?")
    assert crm_customers.get_customer(db, customer_id=customer["id"])["language"] == "en"


async def test_end_call_says_goodbye_and_ends(crm_path, db):
    customer = add_customer(db, name="Ali", phone="+966501234567")
    metadata = api_call(db, language="en", customer_id=customer["id"])
    async with call_session(crm_path, bilingual, metadata=metadata) as c:
        closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        c.session.on("close", lambda event: closed.set_result(event.reason.value))
        result = await c.say("That's all, thank you, bye")
        result.expect.contains_function_call(name="end_call")
        goodbye = result.expect.contains_message(role="assistant").event().item
        assert goodbye.text_content == "Goodbye, Ali!"
        # the session closes itself once the goodbye has been said
        assert await asyncio.wait_for(closed, timeout=5) == "user_initiated"
        await c.recorder.finish()
    call_row = crm_calls.get_call_detail(db, call_id=1)
    assert call_row["status"] == "ended" and call_row["outcome"] == "completed"
    assert call_row["transcript"][-1]["text"] == "Goodbye, Ali!"
    assert any(e["kind"] == "end_requested" for e in call_row["events"])
