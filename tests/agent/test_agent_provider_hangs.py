"""A provider that accepts a request and then sends nothing: the call's models (agent.providers,
real plugins over HTTP and websocket to the provider double) give it up within its bound and
do not ask it again; the next voice speaks, or the error reaches the failsafe at once.

The voices are driven as the session's tts_node drives them: a stream with the session's
connection options (the framework's defaults), through a StreamAdapter for a voice that cannot
stream. The whole call, with the caller's ears and the failsafe, is in
tests/reliability/test_provider_hangs.py."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from livekit import rtc
from livekit.agents import DEFAULT_API_CONNECT_OPTIONS, APIError, tts
from livekit.agents.utils import http_context

from agent.providers import STT_ANSWER, TTS_FIRST_AUDIO, Providers
from app.settings import Settings
from personas import PersonaType
from tests.provider_double import ProviderDouble, espeak_pcm

pytestmark = pytest.mark.asyncio

REPLY = "Certainly, I am happy to answer your question."
SLACK = 2.5
"""Seconds on top of a bound for a loaded CI machine (a safety net, not the claim)."""


@pytest.fixture(scope="module")
def double() -> Iterator[ProviderDouble]:
    with ProviderDouble() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(double: ProviderDouble) -> None:
    double.reset()


@asynccontextmanager
async def providers(double: ProviderDouble, *, elevenlabs: bool) -> AsyncIterator[Providers]:
    """The call's models, built from settings that point them at the double (as in a job)."""
    keys: dict[str, str] = {"eleven_api_key": "el-test", "elevenlabs_base_url": double.base_url}
    models = Providers(
        Settings(
            _env_file=None,
            livekit_url="ws://127.0.0.1:7880",
            livekit_api_key="devkey",
            livekit_api_secret="secret",
            operator_api_key="0123456789abcdef0123",
            openai_base_url=double.base_url,
            openai_api_key="test",
            stt_model="whisper-1",
            tts_model="tts-1",
            **(keys if elevenlabs else {}),
        )
    )
    async with http_context.open():
        try:
            yield models
        finally:
            await models.aclose()


@dataclass
class Heard:
    started: float
    first_audio: float | None = None
    seconds: float = 0.0
    error: BaseException | None = None
    errors: list[tts.TTSError] = field(default_factory=list)
    ended: float = 0.0


async def speak(voice: tts.TTS, text: str) -> Heard:
    """What a caller would hear of `text`, and when: the session's tts_node, by hand."""
    adapter = None if voice.capabilities.streaming else tts.StreamAdapter(tts=voice)
    heard = Heard(started=time.monotonic())
    voice.on("error", heard.errors.append)
    try:
        async with (adapter or voice).stream(conn_options=DEFAULT_API_CONNECT_OPTIONS) as stream:
            stream.push_text(text)
            stream.end_input()
            async for event in stream:
                if heard.first_audio is None:
                    heard.first_audio = time.monotonic() - heard.started
                heard.seconds += event.frame.duration
    except APIError as error:
        heard.error = error
    finally:
        heard.ended = time.monotonic() - heard.started
        voice.off("error", heard.errors.append)
        if adapter is not None:
            await adapter.aclose()
    return heard


@pytest.mark.parametrize("stall", ["headers", "first_chunk"])
async def test_a_hung_first_voice_hands_the_reply_to_the_second(
    double: ProviderDouble, stall: str
) -> None:
    async with providers(double, elevenlabs=True) as models:
        voice = models.tts(PersonaType.RECEPTION, "en")
        await double.afaults(elevenlabs={"stall": stall, "times": 1})
        heard = await speak(voice, REPLY)
        between = time.time()
        again = await speak(voice, REPLY)  # the hung voice is set aside, not waited for again

    assert heard.error is None and heard.first_audio is not None
    speech = (await double.alog())["speech"]
    eleven = [s for s in speech if s.get("provider") == "elevenlabs"]
    openai = [s for s in speech if s.get("provider") is None and s["time"] < between]
    assert eleven[0]["fault"] and eleven[0]["input"].strip() == REPLY  # asked once, went silent
    if stall == "headers":  # the reply is the second voice's, whole
        assert openai[0]["input"] == REPLY and openai[0]["completed"]
        assert heard.seconds > 2.0
        assert heard.first_audio < TTS_FIRST_AUDIO + SLACK
    else:  # the caller heard the start of it in the first voice: the sentence is not repeated
        assert not openai
        assert heard.ended < TTS_FIRST_AUDIO + SLACK
    assert again.error is None and again.seconds > 2.0 and again.first_audio < SLACK


async def test_every_voice_hung_fails_at_once_for_the_failsafe(double: ProviderDouble) -> None:
    async with providers(double, elevenlabs=True) as models:
        voice = models.tts(PersonaType.SALES, "en")
        await double.afaults(elevenlabs={"stall": "headers"}, tts={"stall": "headers"})
        heard = await speak(voice, REPLY)

    assert heard.first_audio is None and heard.error is not None
    # one unrecoverable error, the failsafe's cue; the chain is not run again
    assert [e.recoverable for e in heard.errors] == [False]
    first, second = (await double.alog())["speech"][:2]  # then the background probes
    assert first["provider"] == "elevenlabs" and second.get("provider") is None
    assert first["fault"] and second["fault"]
    assert 2 * TTS_FIRST_AUDIO - 0.5 < heard.ended < 2 * TTS_FIRST_AUDIO + SLACK


async def test_a_single_hung_voice_is_not_asked_again(double: ProviderDouble) -> None:
    async with providers(double, elevenlabs=False) as models:
        voice = models.tts(PersonaType.RECEPTION, "en")
        await double.afaults(tts={"stall": "headers"})
        heard = await speak(voice, REPLY)
        await double.afaults(tts={"status": 500, "times": 2})  # a quick failure is still retried
        recovered = await speak(voice, REPLY)

    assert heard.first_audio is None and heard.error is not None
    assert [e.recoverable for e in heard.errors] == [False]
    assert heard.ended < TTS_FIRST_AUDIO + SLACK
    assert recovered.error is None and recovered.seconds > 2.0
    assert [e.recoverable for e in recovered.errors] == [True, True]
    assert [bool(s.get("fault")) for s in (await double.alog())["speech"]] == [
        True,
        True,
        True,
        False,
    ]


@pytest.mark.parametrize("stall", ["headers", "first_chunk"])
async def test_a_hung_transcription_fails_within_its_bound(
    double: ProviderDouble, stall: str
) -> None:
    async with providers(double, elevenlabs=False) as models:
        stt = models.stt("en")
        pcm, rate = espeak_pcm("Hello, I have a question for you today.", "en")
        frame = rtc.AudioFrame(pcm, rate, 1, len(pcm) // 2)
        errors: list = []
        stt.on("error", errors.append)
        await double.afaults(stt={"stall": stall})
        started = time.monotonic()
        with pytest.raises(APIError):
            await stt.recognize(frame, conn_options=DEFAULT_API_CONNECT_OPTIONS)
        took = time.monotonic() - started

    assert [e.recoverable for e in errors] == [False]  # the failsafe's cue, not a retry
    assert len((await double.alog())["transcriptions"]) == 1
    assert STT_ANSWER - 0.5 < took < STT_ANSWER + SLACK
