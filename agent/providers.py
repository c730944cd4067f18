"""Speech and language providers, chosen by settings.

OpenAI (or any OpenAI-compatible server at `openai_base_url`) for STT and the LLM; ElevenLabs
for each persona's voice when its key is set, with OpenAI TTS in the persona's fallback voice
behind it (or alone). Models are built per call and cached per persona and language.
"""

from __future__ import annotations

import functools
import logging
import ssl

import httpx
import openai as openai_sdk
from livekit.agents import llm, stt, tts
from livekit.plugins import elevenlabs, openai

from app.settings import Settings
from personas import PersonaType, get_persona

logger = logging.getLogger("ornina.agent.providers")

LLM_TEMPERATURE = 0.4
# self-hosted servers can be slow to the first token; the plugin's default read timeout is 5 s
LLM_TIMEOUT = httpx.Timeout(connect=10.0, read=30.0, write=10.0, pool=10.0)
SPEECH_TIMEOUT = httpx.Timeout(connect=15.0, read=5.0, write=5.0, pool=5.0)
"""The openai plugin's own defaults for STT and TTS."""
HTTP_LIMITS = httpx.Limits(max_connections=50, max_keepalive_connections=50, keepalive_expiry=120)
# Raw 24 kHz PCM rather than the plugins' mp3 default: no decoder thread and no decoding CPU per
# reply, and no encoder padding at its head (bench/, BENCHMARKS.md). The extra bytes cost
# nothing that matters on a server-to-server link.
TTS_OPENAI_FORMAT = "pcm"
TTS_ELEVENLABS_ENCODING = "pcm_24000"
NO_KEY = "no-key"
"""An OpenAI-compatible server without auth still needs some key for the client."""


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context per process, built at warm-up (agent.worker.prewarm): building one
    reads the CA bundle, 100-300 ms of CPU on a busy two-core machine, which each plugin's
    own HTTP client would otherwise spend on the call's event loop, at call start and again
    at every transfer (the new persona's voice)."""
    return httpx.create_ssl_context()


def pipeline_available(settings: Settings) -> bool:
    """Whether callers can be served at all: STT and the LLM need OpenAI or a compatible server."""
    return settings.openai_api_key is not None or settings.openai_base_url is not None


class Providers:
    """One call's models. `llm()` for the session, `stt()`/`tts()` for each persona."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stt: dict[str, stt.STT] = {}
        self._tts: dict[tuple[PersonaType, str], tts.TTS] = {}
        self._llm: llm.LLM | None = None
        self._clients: dict[str, openai_sdk.AsyncClient] = {}

    def _client(self, kind: str) -> openai_sdk.AsyncClient:
        """The call's OpenAI client for `kind` ("llm" or "speech"), shared by its models."""
        if kind not in self._clients:
            settings = self._settings
            key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else NO_KEY
            self._clients[kind] = openai_sdk.AsyncClient(
                api_key=key,
                base_url=settings.openai_base_url or None,
                max_retries=0,
                http_client=httpx.AsyncClient(
                    timeout=LLM_TIMEOUT if kind == "llm" else SPEECH_TIMEOUT,
                    follow_redirects=True,
                    limits=HTTP_LIMITS,
                    verify=tls_context(),
                ),
            )
        return self._clients[kind]

    def llm(self) -> llm.LLM:
        if self._llm is None:
            self._llm = openai.LLM(
                model=self._settings.llm_model,
                temperature=LLM_TEMPERATURE,
                parallel_tool_calls=False,
                client=self._client("llm"),
            )
        return self._llm

    def stt(self, language: str) -> stt.STT:
        if language not in self._stt:
            self._stt[language] = openai.STT(
                model=self._settings.stt_model, language=language, client=self._client("speech")
            )
        return self._stt[language]

    def tts(self, persona: PersonaType, language: str) -> tts.TTS:
        key = (persona, language)
        if key not in self._tts:
            chain = self.tts_chain(persona, language)
            self._tts[key] = chain[0] if len(chain) == 1 else tts.FallbackAdapter(chain)
        return self._tts[key]

    def tts_chain(self, persona: PersonaType, language: str) -> list[tts.TTS]:
        """The persona's voices in order of preference."""
        settings = self._settings
        spec = get_persona(persona)
        chain: list[tts.TTS] = []
        if settings.eleven_api_key is not None:
            chain.append(
                elevenlabs.TTS(
                    voice_id=getattr(settings, spec.voice_setting),
                    model=settings.elevenlabs_model,
                    language=language,
                    api_key=settings.eleven_api_key.get_secret_value(),
                    encoding=TTS_ELEVENLABS_ENCODING,
                )
            )
        if pipeline_available(settings):
            chain.append(
                openai.TTS(
                    model=settings.tts_model,
                    voice=spec.openai_voice,
                    response_format=TTS_OPENAI_FORMAT,
                    client=self._client("speech"),
                )
            )
        if not chain:
            raise RuntimeError("no TTS provider is configured")
        return chain

    async def aclose(self) -> None:
        models: list[llm.LLM | stt.STT | tts.TTS] = [*self._stt.values(), *self._tts.values()]
        if self._llm is not None:
            models.append(self._llm)
        for model in models:
            try:
                await model.aclose()
            except Exception:
                logger.debug("closing a provider failed", exc_info=True)
        for client in self._clients.values():
            try:
                await client.close()
            except Exception:
                logger.debug("closing a provider client failed", exc_info=True)
