"""Speech and language providers, chosen by settings.

OpenAI (or any OpenAI-compatible server at `openai_base_url`) for STT and the LLM; ElevenLabs
for each persona's voice when its key is set, with OpenAI TTS in the persona's fallback voice
behind it (or alone). Models are built per call and cached per persona and language.

A provider that accepts a request and then goes silent is given up within a bound a little
above its normal first byte (TTS_FIRST_AUDIO, STT_ANSWER; the LLM's is agent.session's
LLM_CONNECT), and such a hang is not retried on the same provider: the next voice speaks, or,
with none left, the failsafe apologises in the local voice (agent.failsafe). Quick failures
(refusals, 5xx) are still retried as before.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl

import httpx
import httpx2
import openai as openai_sdk
from livekit import rtc
from livekit.agents import APIConnectOptions, APIError, APITimeoutError, llm, stt, tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr
from livekit.plugins import elevenlabs, openai
from livekit.plugins.elevenlabs import tts as elevenlabs_tts
from livekit.plugins.openai import tts as openai_tts

from app.settings import Settings
from personas import PersonaType, get_persona

logger = logging.getLogger("ornina.agent.providers")

LLM_TEMPERATURE = 0.4
# self-hosted servers can be slow to the first token; the plugin's default read timeout is 5 s
LLM_TIMEOUT = httpx.Timeout(connect=10.0, read=30.0, write=10.0, pool=10.0)
SPEECH_TIMEOUT = httpx.Timeout(connect=15.0, read=5.0, write=5.0, pool=5.0)
"""The openai plugin's own client defaults for STT and TTS. Its requests set their own timeout
(read 30 s), which overrides these: the bounds below are applied under them (ReadDeadline)."""
TTS_FIRST_AUDIO = 3.0
"""Seconds a voice may take to its first audio, or between two pieces of it, before the next
voice (or the local one) speaks instead. A healthy voice starts in well under a second
(OpenAI TTS and ElevenLabs stream their first audio in about 0.3-1 s), so this is its normal
first byte plus about 2 s: a pause a caller still takes for thinking, not dead air. The
framework's own bounds are 10 s for ElevenLabs and 30 s for OpenAI TTS, three tries each."""
STT_ANSWER = 5.0
"""Seconds a transcription may take to answer. Its first byte is the whole transcript: about
1-2 s for a sentence on OpenAI or a GPU Whisper server, 3 s for a long utterance; past 5 s the
server is hung, and the failsafe's apology beats more silence."""
VOICE_CONNECT = APIConnectOptions(max_retry=0, retry_interval=0.5, timeout=TTS_FIRST_AUDIO)
"""A chain of voices, whatever the session asks: each voice gets TTS_FIRST_AUDIO to connect and
to answer and retries its own quick failures (the adapter's max_retry_per_tts, half a second
apart); the chain as a whole is not run again (the framework's own default for an adapter,
which the session's options override), as every voice in it has just failed."""
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
        """The call's OpenAI client for `kind` ("llm", "stt" or "tts"), shared by its models."""
        if kind not in self._clients:
            settings = self._settings
            key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else NO_KEY
            transport = httpx.AsyncHTTPTransport(verify=tls_context(), limits=HTTP_LIMITS)
            bound = {"stt": STT_ANSWER, "tts": TTS_FIRST_AUDIO}.get(kind)
            self._clients[kind] = openai_sdk.AsyncClient(
                api_key=key,
                base_url=settings.openai_base_url or None,
                max_retries=0,
                http_client=httpx.AsyncClient(
                    timeout=LLM_TIMEOUT if kind == "llm" else SPEECH_TIMEOUT,
                    follow_redirects=True,
                    transport=transport if bound is None else ReadDeadline(transport, bound),
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
            self._stt[language] = OpenAISTT(
                model=self._settings.stt_model, language=language, client=self._client("stt")
            )
        return self._stt[language]

    def tts(self, persona: PersonaType, language: str) -> tts.TTS:
        key = (persona, language)
        if key not in self._tts:
            chain = self.tts_chain(persona, language)
            self._tts[key] = chain[0] if len(chain) == 1 else VoiceChain(chain)
        return self._tts[key]

    def tts_chain(self, persona: PersonaType, language: str) -> list[tts.TTS]:
        """The persona's voices in order of preference."""
        settings = self._settings
        spec = get_persona(persona)
        chain: list[tts.TTS] = []
        if settings.eleven_api_key is not None:
            chain.append(
                ElevenLabsVoice(
                    voice_id=getattr(settings, spec.voice_setting),
                    model=settings.elevenlabs_model,
                    language=language,
                    api_key=settings.eleven_api_key.get_secret_value(),
                    encoding=TTS_ELEVENLABS_ENCODING,
                    base_url=settings.elevenlabs_base_url or NOT_GIVEN,
                )
            )
        if pipeline_available(settings):
            chain.append(
                OpenAIVoice(
                    model=settings.tts_model,
                    voice=spec.openai_voice,
                    response_format=TTS_OPENAI_FORMAT,
                    client=self._client("tts"),
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


# --------------------------------------------------------------------------------------------
# bounds on a provider that accepted a request and went silent


class ReadDeadline(httpx.AsyncBaseTransport):
    """Caps the read timeout of every request: how long the answer's headers, or the next piece
    of its body, may take. The openai plugins pass their own timeout with each request (read
    30 s for STT and TTS), which overrides the client's; this applies under it."""

    def __init__(self, transport: httpx.AsyncBaseTransport, read: float) -> None:
        self._transport = transport
        self._read = read

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = dict(request.extensions.get("timeout") or {})
        if timeout.get("read") is None or timeout["read"] > self._read:
            timeout["read"] = self._read
        request.extensions["timeout"] = timeout
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self._transport.aclose()


DEADLINES = (APITimeoutError, asyncio.TimeoutError, httpx.TimeoutException, httpx2.TimeoutException)
"""What the plugins raise, or chain from, when a deadline passed (the openai SDK uses httpx2;
our clients are httpx)."""


def timed_out(error: BaseException) -> bool:
    """Whether a provider's error is (or was caused by) a deadline that passed."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, DEADLINES):
            return True
        seen = seen.__cause__
    return False


def hang_not_retried(error: APIError, what: str) -> APIError | None:
    """What the framework's retry loop should see instead of `error` when a provider went
    silent past its bound: an error it does not retry (the next voice, or the failsafe, takes
    over). None for any other failure, which is raised as it was (and retried as before)."""
    if not error.retryable or not timed_out(error):
        return None
    return APITimeoutError(f"{what}: no answer within its bound", retryable=False)


class OpenAIVoice(openai.TTS):
    """OpenAI TTS whose hang (ReadDeadline of TTS_FIRST_AUDIO) is not retried."""

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _OpenAIVoiceStream(tts=self, input_text=text, conn_options=conn_options)


class _HangNotRetried:
    """A plugin's synthesis, whose hang (a deadline passed) the framework does not retry."""

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        try:
            await super()._run(output_emitter)  # type: ignore[misc]
        except APIError as error:
            if (hang := hang_not_retried(error, self._tts.label)) is None:  # type: ignore[attr-defined]
                raise
            raise hang from error


class _OpenAIVoiceStream(_HangNotRetried, openai_tts.ChunkedStream):
    pass


class ElevenLabsVoice(elevenlabs.TTS):
    """ElevenLabs whose hang is not retried. Its websocket gives each synthesis the request's
    `conn_options.timeout` to its first audio (VOICE_CONNECT: TTS_FIRST_AUDIO)."""

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> elevenlabs_tts.SynthesizeStream:
        stream = _ElevenLabsVoiceStream(tts=self, conn_options=conn_options)
        self._streams.add(stream)  # closed with the TTS, as the plugin's own stream() does
        return stream


class _ElevenLabsVoiceStream(_HangNotRetried, elevenlabs_tts.SynthesizeStream):
    pass


class VoiceChain(tts.FallbackAdapter):
    """A persona's voices in order, run with VOICE_CONNECT whatever options the session
    passes (its defaults would run the whole chain four times, with 2 s pauses)."""

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = VOICE_CONNECT
    ) -> tts.ChunkedStream:
        return super().synthesize(text, conn_options=VOICE_CONNECT)

    def stream(self, *, conn_options: APIConnectOptions = VOICE_CONNECT) -> tts.SynthesizeStream:
        return super().stream(conn_options=VOICE_CONNECT)


class OpenAISTT(openai.STT):
    """OpenAI STT whose hang (ReadDeadline of STT_ANSWER) is not retried."""

    async def _recognize_impl(
        self,
        buffer: list[rtc.AudioFrame] | rtc.AudioFrame,
        *,
        language: NotGivenOr[str | list[str]] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        try:
            return await super()._recognize_impl(
                buffer, language=language, conn_options=conn_options
            )
        except APIError as error:
            if (hang := hang_not_retried(error, self.label)) is None:
                raise
            raise hang from error
