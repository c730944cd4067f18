"""Which providers are built from which settings (no network: constructors only)."""

from __future__ import annotations

import pytest
from livekit.agents import tts
from livekit.plugins import elevenlabs, openai

from agent.providers import Providers, pipeline_available
from app.settings import Settings
from personas import PersonaType

BASE = {
    "livekit_url": "ws://127.0.0.1:7880",
    "livekit_api_key": "devkey",
    "livekit_api_secret": "secret",
    "operator_api_key": "0123456789abcdef0123",
}


def settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, **BASE, **overrides)


def test_no_keys_means_no_pipeline() -> None:
    assert not pipeline_available(settings())
    assert pipeline_available(settings(openai_api_key="sk-test"))
    assert pipeline_available(settings(openai_base_url="http://127.0.0.1:9000/v1"))


@pytest.mark.asyncio
async def test_openai_only() -> None:
    providers = Providers(
        settings(
            openai_api_key="sk-test",
            llm_model="gpt-4.1-mini",
            stt_model="gpt-4o-mini-transcribe",
            tts_model="tts-1",
        )
    )
    llm = providers.llm()
    assert isinstance(llm, openai.LLM) and llm.model == "gpt-4.1-mini"
    stt = providers.stt("ar")
    assert isinstance(stt, openai.STT) and stt.model == "gpt-4o-mini-transcribe"
    voice = providers.tts(PersonaType.SALES, "ar")
    assert isinstance(voice, openai.TTS)
    assert (voice.model, voice._opts.voice) == ("tts-1", "nova")  # Sarah's fallback voice
    assert providers.tts(PersonaType.SALES, "ar") is voice  # cached per persona and language
    await providers.aclose()


@pytest.mark.asyncio
async def test_elevenlabs_first_with_openai_behind() -> None:
    providers = Providers(
        settings(
            openai_api_key="sk-test", eleven_api_key="el-test", voice_complaints="voice-mohammed"
        )
    )
    voice = providers.tts(PersonaType.COMPLAINTS, "ar")
    assert isinstance(voice, tts.FallbackAdapter)
    eleven, backup = providers.tts_chain(PersonaType.COMPLAINTS, "ar")
    assert isinstance(eleven, elevenlabs.TTS) and isinstance(backup, openai.TTS)
    assert eleven._opts.voice_id == "voice-mohammed"
    assert eleven._opts.language == "ar"
    assert backup._opts.voice == "echo"
    await providers.aclose()


@pytest.mark.asyncio
async def test_compatible_server_is_used_for_everything() -> None:
    base = "http://127.0.0.1:9000/v1"
    providers = Providers(settings(openai_base_url=base, stt_model="whisper-1", tts_model="tts-1"))
    for model in (providers.llm(), providers.stt("en"), providers.tts(PersonaType.RECEPTION, "en")):
        assert str(model._client.base_url).rstrip("/") == base
    assert providers.llm()._client.api_key == "no-key"
    await providers.aclose()


def test_elevenlabs_alone_without_openai_is_not_a_pipeline() -> None:
    config = settings(eleven_api_key="el-test")
    assert not pipeline_available(config)
    chain = Providers(config).tts_chain(PersonaType.RECEPTION, "en")
    assert len(chain) == 1 and isinstance(chain[0], elevenlabs.TTS)
