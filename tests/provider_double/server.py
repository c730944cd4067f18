"""OpenAI-compatible provider double: chat completions, transcriptions and speech, offline.

The real livekit openai plugin (openai.LLM / openai.STT / openai.TTS with
``base_url=http://127.0.0.1:<port>/v1``) talks to it exactly as to OpenAI:

* ``POST /v1/chat/completions``: replies follow the test's script of rules (text and tool calls),
  streamed as ``chat.completion.chunk`` SSE events ending with a ``finish_reason`` chunk, a usage
  chunk and ``data: [DONE]``; non-streamed requests get a ``chat.completion`` object.
* ``POST /v1/audio/transcriptions``: each non-silent upload pops the next registered utterance.
* ``POST /v1/audio/speech``: real speech made by ``espeak-ng`` (``audio/wav``, or an SSE stream of
  ``speech.audio.delta`` events in the requested format when ``stream_format`` is ``sse``).
* ``GET /v1/models``.

Tests steer it through the control API under ``/_double/`` (see ``build_app``).
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
import math
import re
import shutil
import struct
import subprocess
import time
import uuid
import wave
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEFAULT_SILENCE_RMS = 100.0  # int16 RMS below which an upload counts as silence
DEFAULT_REPLY = "OK."
ESPEAK_WPM = 175  # espeak-ng's default speaking rate, scaled by the request's `speed`
TTS_SSE_SAMPLE_RATE = 24000  # the rate the plugin assumes for raw `pcm`

MATCH_KEYS = {
    "last_role",
    "last_contains",
    "any_user_contains",
    "system_contains",
    "tool_offered",
    "tool_not_offered",
}
DELAY_KEYS = {"stt_ms", "llm_first_token_ms", "llm_chunk_ms", "tts_first_byte_ms"}
FAULT_ENDPOINTS = {"llm", "stt", "tts", "elevenlabs"}
FAULT_KEYS = {"status", "times", "hang", "message", "stall"}
CONFIG_KEYS = {"silence_rms", "default_reply"}

_ARABIC_RE = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_LANGUAGE_NAMES = {"ar": "arabic", "en": "english", "fr": "french", "de": "german", "es": "spanish"}


class BadRequest(Exception):
    pass


# --------------------------------------------------------------------------------------------
# audio helpers (also used by tests to make "spoken" caller audio)


def detect_language(text: str) -> str:
    """'ar' when the text contains Arabic script, else 'en'."""
    return "ar" if _ARABIC_RE.search(text or "") else "en"


def parse_wav(data: bytes) -> tuple[bytes, int, int, int]:
    """Return (pcm, sample_rate, channels, sample_width) of a PCM WAV.

    Tolerates the bogus RIFF/data sizes espeak-ng writes when its output is a pipe: the data
    chunk is taken to run to the end of the file when its declared size does not fit.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    pos = 12
    fmt: tuple[int, int, int] | None = None
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        size = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body_start = pos + 8
        if cid == b"fmt ":
            audio_format, channels, rate = struct.unpack("<HHI", data[body_start : body_start + 8])
            bits = struct.unpack("<H", data[body_start + 14 : body_start + 16])[0]
            if audio_format not in (1, 0xFFFE):
                raise ValueError(f"unsupported WAV format {audio_format} (PCM only)")
            fmt = (rate, channels, bits // 8)
        elif cid == b"data":
            if fmt is None:
                raise ValueError("WAV data chunk before fmt chunk")
            end = body_start + size
            if size == 0 or end > len(data):
                end = len(data)
            rate, channels, width = fmt
            pcm = data[body_start:end]
            frame = channels * width
            pcm = pcm[: len(pcm) - (len(pcm) % frame)] if frame else pcm
            return pcm, rate, channels, width
        pos = body_start + size + (size & 1)
    raise ValueError("WAV has no data chunk")


def make_wav(pcm: bytes, sample_rate: int, channels: int = 1, sample_width: int = 2) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(sample_width)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return buf.getvalue()


def pcm_rms(pcm: bytes, sample_width: int = 2) -> float:
    """RMS of 16-bit little-endian PCM (all channels together)."""
    if sample_width != 2 or len(pcm) < 2:
        return 0.0
    import numpy as np

    samples = np.frombuffer(pcm[: len(pcm) - (len(pcm) % 2)], dtype="<i2").astype(np.float64)
    return float(math.sqrt(float(np.mean(samples * samples)))) if samples.size else 0.0


def _espeak_args(language: str, speed: float) -> list[str]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    wpm = max(80, min(450, int(round(ESPEAK_WPM * (speed or 1.0)))))
    return [exe, "-v", language, "-s", str(wpm), "--stdin", "--stdout"]


def _espeak_result(raw: bytes) -> tuple[bytes, int]:
    pcm, rate, channels, width = parse_wav(raw)
    if channels != 1 or width != 2:
        raise RuntimeError(f"unexpected espeak-ng output: {channels} ch, {width * 8} bit")
    if not pcm:  # e.g. punctuation only: 100 ms of silence rather than an empty file
        pcm = b"\x00\x00" * (rate // 10)
    return pcm, rate


def espeak_pcm(text: str, language: str | None = None, speed: float = 1.0) -> tuple[bytes, int]:
    """Speak `text` with espeak-ng: (16-bit mono PCM, sample_rate). Synchronous."""
    lang = language or detect_language(text)
    proc = subprocess.run(
        _espeak_args(lang, speed), input=text.encode("utf-8"), capture_output=True, timeout=60
    )
    if proc.returncode != 0:
        raise RuntimeError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()}")
    return _espeak_result(proc.stdout)


def espeak_wav(text: str, language: str | None = None, speed: float = 1.0) -> bytes:
    """Speak `text` with espeak-ng and return a well-formed WAV file (bytes). Synchronous."""
    pcm, rate = espeak_pcm(text, language, speed)
    return make_wav(pcm, rate)


async def espeak_pcm_async(
    text: str, language: str | None = None, speed: float = 1.0
) -> tuple[bytes, int]:
    lang = language or detect_language(text)
    proc = await asyncio.create_subprocess_exec(
        *_espeak_args(lang, speed),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(text.encode("utf-8"))
    if proc.returncode != 0:
        raise RuntimeError(f"espeak-ng failed: {err.decode(errors='replace').strip()}")
    return _espeak_result(out)


def resample_pcm16(pcm: bytes, src_rate: int, dst_rate: int) -> bytes:
    """Linear-interpolation resampling of mono 16-bit PCM (good enough for a test double)."""
    if src_rate == dst_rate or not pcm:
        return pcm
    import numpy as np

    src = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    n_out = max(1, int(round(len(src) * dst_rate / src_rate)))
    x_out = np.arange(n_out) * (src_rate / dst_rate)
    out = np.interp(x_out, np.arange(len(src)), src)
    return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()


_AV_FORMATS = {  # response_format -> (container, codec)
    "mp3": ("mp3", "libmp3lame"),
    "flac": ("flac", "flac"),
    "opus": ("ogg", "libopus"),
    "aac": ("adts", "aac"),
}


def encode_audio(pcm: bytes, rate: int, response_format: str) -> tuple[bytes, str]:
    """Encode mono 16-bit PCM into `response_format`: (bytes, content_type)."""
    fmt = (response_format or "wav").lower()
    if fmt == "wav":
        return make_wav(pcm, rate), "audio/wav"
    if fmt == "pcm":  # OpenAI's raw pcm is 24 kHz mono s16le
        return resample_pcm16(pcm, rate, TTS_SSE_SAMPLE_RATE), "audio/pcm"
    if fmt not in _AV_FORMATS:
        raise BadRequest(f"unsupported response_format {response_format!r}")
    import av
    import numpy as np

    container_name, codec = _AV_FORMATS[fmt]
    if codec == "libopus":  # opus only takes 48 kHz (among others); resample up front
        pcm, rate = resample_pcm16(pcm, rate, 48000), 48000
    out = io.BytesIO()
    with av.open(out, mode="w", format=container_name) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    content_type = {"mp3": "audio/mpeg", "flac": "audio/flac", "opus": "audio/ogg"}.get(
        fmt, "audio/aac"
    )
    return out.getvalue(), content_type


# --------------------------------------------------------------------------------------------
# state


@dataclass
class Fault:
    status: int = 500
    hang: bool = False
    times: int | None = None  # None: every request until cleared
    message: str = "provider double: injected fault"
    stall: str | None = None  # see STALLS

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "hang": self.hang,
            "stall": self.stall,
            "times": self.times,
            "message": self.message,
        }


@dataclass
class Rule:
    match: dict[str, Any]
    reply: dict[str, Any]
    times: int | None
    used: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"match": self.match, "reply": self.reply, "times": self.times, "used": self.used}


@dataclass
class State:
    silence_rms: float = DEFAULT_SILENCE_RMS
    default_reply: str = DEFAULT_REPLY
    rules: list[Rule] = field(default_factory=list)
    utterances: deque[dict[str, Any]] = field(default_factory=deque)
    delays: dict[str, float] = field(default_factory=dict)
    faults: dict[str, Fault] = field(default_factory=dict)
    chat: list[dict[str, Any]] = field(default_factory=list)
    transcriptions: list[dict[str, Any]] = field(default_factory=list)
    speech: list[dict[str, Any]] = field(default_factory=list)
    generation: int = 0  # bumped by reset: releases hanging requests
    started: float = field(default_factory=time.time)

    def reset(self, silence_rms: float, default_reply: str) -> None:
        self.silence_rms = silence_rms
        self.default_reply = default_reply
        self.rules.clear()
        self.utterances.clear()
        self.delays.clear()
        self.faults.clear()
        self.chat.clear()
        self.transcriptions.clear()
        self.speech.clear()
        self.generation += 1

    def delay_s(self, key: str) -> float:
        return max(0.0, float(self.delays.get(key, 0) or 0)) / 1000.0

    def take_fault(self, endpoint: str) -> Fault | None:
        fault = self.faults.get(endpoint)
        if fault is None:
            return None
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self.faults[endpoint]
        return fault


# --------------------------------------------------------------------------------------------
# chat helpers

_ids = itertools.count(1)


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    return str(content)


def tool_names(tools: Any) -> list[str]:
    names = []
    for tool in tools or []:
        if not isinstance(tool, dict):
            continue
        fn = tool.get("function") if isinstance(tool.get("function"), dict) else None
        name = (fn or {}).get("name") or tool.get("name")
        if name:
            names.append(str(name))
    return names


def rule_matches(match: dict[str, Any], messages: list[dict[str, Any]], offered: list[str]) -> bool:
    last = messages[-1] if messages else {}
    if "last_role" in match and last.get("role") != match["last_role"]:
        return False
    if "last_contains" in match and (
        str(match["last_contains"]).lower() not in message_text(last).lower()
    ):
        return False
    if "any_user_contains" in match:
        needle = str(match["any_user_contains"]).lower()
        if not any(m.get("role") == "user" and needle in message_text(m).lower() for m in messages):
            return False
    if "system_contains" in match:
        first_system = next((m for m in messages if m.get("role") in ("system", "developer")), None)
        if first_system is None or (
            str(match["system_contains"]).lower() not in message_text(first_system).lower()
        ):
            return False
    if "tool_offered" in match and match["tool_offered"] not in offered:
        return False
    if "tool_not_offered" in match and match["tool_not_offered"] in offered:
        return False
    return True


def validate_rule(raw: Any) -> Rule:
    if not isinstance(raw, dict):
        raise BadRequest("each rule must be an object")
    unknown = set(raw) - {"match", "reply", "times"}
    if unknown:
        raise BadRequest(f"unknown rule keys: {sorted(unknown)}")
    match = raw.get("match") or {}
    if not isinstance(match, dict):
        raise BadRequest("rule.match must be an object")
    bad = set(match) - MATCH_KEYS
    if bad:
        raise BadRequest(f"unknown match keys: {sorted(bad)} (known: {sorted(MATCH_KEYS)})")
    reply = raw.get("reply") or {}
    if not isinstance(reply, dict):
        raise BadRequest("rule.reply must be an object")
    bad = set(reply) - {"text", "tool_calls"}
    if bad:
        raise BadRequest(f"unknown reply keys: {sorted(bad)}")
    calls = reply.get("tool_calls") or []
    if not isinstance(calls, list):
        raise BadRequest("reply.tool_calls must be a list")
    for call in calls:
        if not isinstance(call, dict) or not call.get("name"):
            raise BadRequest("each tool call needs a name")
    times = raw.get("times")
    if times is not None and (not isinstance(times, int) or times < 1):
        raise BadRequest("rule.times must be a positive integer")
    return Rule(match=match, reply=reply, times=times)


def split_text(text: str) -> list[str]:
    """Small streaming pieces: one word (with its trailing space) at a time."""
    return re.findall(r"\S+\s*|\s+", text) or ([text] if text else [])


def split_args(args: str) -> list[str]:
    if len(args) < 8:
        return [args]
    step = max(1, len(args) // 3)
    return [args[i : i + step] for i in range(0, len(args), step)]


def rough_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


# --------------------------------------------------------------------------------------------
# stalls and ElevenLabs (helpers of the methods at the end of ProviderDoubleApp)

STALLS = ("headers", "first_chunk")
"""`stall` faults: 200 and the headers, then nothing (`headers`), or the first piece of the
body, then nothing (`first_chunk`): a provider that accepted the request and went silent."""


def parse_stall(value: Any) -> str | None:
    if value is None or value is False:
        return None
    if value is True:
        return "headers"
    if value not in STALLS:
        raise BadRequest(f"fault stall must be one of {list(STALLS)}")
    return str(value)


def tone_pcm(rate: int, seconds: float) -> bytes:
    """A loud 440 Hz tone (16-bit mono PCM): audio the caller can hear before a stall."""
    import numpy as np

    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2").tobytes()


def elevenlabs_rate(output_format: str) -> int:
    """The sample rate of an ElevenLabs `pcm_<rate>` output format (the double speaks PCM)."""
    kind, _, rate = output_format.partition("_")
    if kind != "pcm" or not rate.isdigit():
        raise BadRequest(f"provider double speaks pcm_<rate> only, not {output_format!r}")
    return int(rate)


async def stall_head(endpoint: str, request: web.Request) -> tuple[str, bytes]:
    """The content type a stalled answer declares, and the first piece of its body."""
    if endpoint == "llm":
        delta = {"role": "assistant", "content": "Certainly"}
        chunk = {"id": "chatcmpl-stall", "object": "chat.completion.chunk", "created": 0}
        chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": None}]
        return "text/event-stream; charset=utf-8", b"data: " + json.dumps(chunk).encode() + b"\n\n"
    if endpoint == "stt":
        return "application/json", b'{"text": "'
    body = await request.json()
    pcm = tone_pcm(TTS_SSE_SAMPLE_RATE, 0.1)
    if body.get("stream_format") == "sse":
        event = {"type": "speech.audio.delta", "audio": base64.b64encode(pcm).decode()}
        return "text/event-stream", b"data: " + json.dumps(event).encode() + b"\n\n"
    return "audio/wav", make_wav(pcm, TTS_SSE_SAMPLE_RATE)[:44] + pcm


# --------------------------------------------------------------------------------------------
# the app


def openai_error(status: int, message: str, err_type: str | None = None) -> web.Response:
    code = None
    if err_type is None:
        if status == 429:
            err_type, code = "requests", "rate_limit_exceeded"
        else:
            err_type = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": err_type, "param": None, "code": code}}
    return web.json_response(body, status=status)


async def _read_json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadRequest(f"invalid JSON body: {e}") from None
    if not isinstance(body, dict):
        raise BadRequest("JSON body must be an object")
    return body


class ProviderDoubleApp:
    def __init__(self, *, silence_rms: float = DEFAULT_SILENCE_RMS) -> None:
        self.base_silence_rms = silence_rms
        self.state = State(silence_rms=silence_rms)

    # -- faults / delays ----------------------------------------------------------------------

    async def _hang(self, request: web.Request) -> None:
        """Never answer: wait until the client goes away or the double is reset."""
        gen = self.state.generation
        while self.state.generation == gen:
            transport = request.transport
            if transport is None or transport.is_closing():
                break
            await asyncio.sleep(0.1)

    async def _apply_fault(self, endpoint: str, request: web.Request) -> web.Response | None:
        fault = self.state.take_fault(endpoint)
        if fault is None:
            return None
        if fault.hang:
            await self._hang(request)
            return openai_error(503, "provider double: hang released")
        if fault.stall:
            return await self._stall(endpoint, request, fault.stall)
        return openai_error(fault.status, fault.message)

    # -- /v1/models ---------------------------------------------------------------------------

    async def models(self, request: web.Request) -> web.Response:
        ids = ["gpt-4.1-mini", "gpt-4.1", "whisper-1", "gpt-4o-mini-transcribe", "tts-1"]
        data = [
            {"id": i, "object": "model", "created": 0, "owned_by": "provider-double"} for i in ids
        ]
        return web.json_response({"object": "list", "data": data})

    # -- /v1/chat/completions -----------------------------------------------------------------

    def _pick_reply(
        self, messages: list[dict[str, Any]], offered: list[str]
    ) -> tuple[int | None, dict[str, Any]]:
        for i, rule in enumerate(self.state.rules):
            if rule.times is not None and rule.used >= rule.times:
                continue
            if rule_matches(rule.match, messages, offered):
                rule.used += 1
                return i, rule.reply
        return None, {"text": self.state.default_reply}

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await _read_json(request)
        except BadRequest as e:
            return openai_error(400, str(e))
        messages = body.get("messages") or []
        if not isinstance(messages, list):
            return openai_error(400, "messages must be a list")
        offered = tool_names(body.get("tools"))
        entry: dict[str, Any] = {
            "time": time.time(),
            "model": body.get("model"),
            "stream": bool(body.get("stream")),
            "messages": messages,
            "tools": offered,
            "tool_choice": body.get("tool_choice"),
            "last_role": (messages[-1].get("role") if messages else None),
            "last_text": (message_text(messages[-1]) if messages else ""),
        }
        self.state.chat.append(entry)

        fault_resp = await self._apply_fault("llm", request)
        if fault_resp is not None:
            entry["fault"] = fault_resp.status
            return fault_resp

        rule_index, reply = self._pick_reply(messages, offered)
        text = str(reply.get("text") or "")
        calls = []
        for call in reply.get("tool_calls") or []:
            args = call.get("arguments", {})
            calls.append(
                {
                    "id": f"call_{next(_ids)}",
                    "type": "function",
                    "function": {
                        "name": str(call["name"]),
                        "arguments": args if isinstance(args, str) else json.dumps(args),
                    },
                }
            )
        entry["rule"] = rule_index
        entry["reply"] = {
            "text": text,
            "tool_calls": [
                {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                for c in calls
            ],
        }
        finish_reason = "tool_calls" if calls else "stop"
        completion_id = f"chatcmpl-double{next(_ids)}"
        created = int(time.time())
        model = body.get("model") or "provider-double"
        prompt_tokens = sum(rough_tokens(message_text(m)) for m in messages)
        completion_tokens = rough_tokens(text) + sum(
            rough_tokens(c["function"]["arguments"]) + 1 for c in calls
        )
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }

        if not body.get("stream"):
            await asyncio.sleep(self.state.delay_s("llm_first_token_ms"))
            message: dict[str, Any] = {"role": "assistant", "content": text or None}
            if calls:
                message["tool_calls"] = calls
            return web.json_response(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "finish_reason": finish_reason,
                            "logprobs": None,
                        }
                    ],
                    "usage": usage,
                }
            )

        resp = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "x-request-id": f"req_{uuid.uuid4().hex[:16]}",
            },
        )
        await resp.prepare(request)

        def chunk(delta: dict[str, Any] | None, finish: str | None = None) -> bytes:
            payload: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": [
                    {"index": 0, "delta": delta or {}, "finish_reason": finish, "logprobs": None}
                ],
            }
            if delta is None:  # the usage chunk: no choices
                payload["choices"] = []
                payload["usage"] = usage
            else:
                payload["usage"] = None
            return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"

        chunk_delay = self.state.delay_s("llm_chunk_ms")
        try:
            await asyncio.sleep(self.state.delay_s("llm_first_token_ms"))
            entry["first_chunk_at"] = time.time()
            await resp.write(chunk({"role": "assistant", "content": "", "refusal": None}))
            for piece in split_text(text):
                if chunk_delay:
                    await asyncio.sleep(chunk_delay)
                await resp.write(chunk({"content": piece}))
            for index, call in enumerate(calls):
                head = {
                    "index": index,
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""},
                }
                await resp.write(chunk({"tool_calls": [head]}))
                for piece in split_args(call["function"]["arguments"]):
                    await resp.write(
                        chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                    )
            await resp.write(chunk({}, finish_reason))
            include_usage = (body.get("stream_options") or {}).get("include_usage")
            if include_usage:
                await resp.write(chunk(None))
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
            entry["completed"] = True
        except ConnectionResetError:  # the client went away mid-stream (e.g. interrupted)
            entry["completed"] = False
        return resp

    # -- /v1/audio/transcriptions -------------------------------------------------------------

    async def transcriptions(self, request: web.Request) -> web.Response:
        fields: dict[str, Any] = {}
        audio = b""
        filename = None
        try:
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                name = part.name or ""
                if part.filename is not None or name == "file":
                    filename = part.filename
                    audio = await part.read(decode=False)
                else:
                    value = await part.text()
                    if name in fields:
                        prev = fields[name]
                        fields[name] = (prev if isinstance(prev, list) else [prev]) + [value]
                    else:
                        fields[name] = value
        except (AssertionError, ValueError) as e:
            return openai_error(400, f"expected multipart/form-data: {e}")

        entry: dict[str, Any] = {
            "time": time.time(),
            "model": fields.get("model"),
            "language_hint": fields.get("language"),
            "response_format": fields.get("response_format", "json"),
            "fields": fields,
            "filename": filename,
            "bytes": len(audio),
        }
        self.state.transcriptions.append(entry)
        if not audio:
            entry["error"] = "no file"
            return openai_error(400, "file is required")
        try:
            pcm, rate, channels, width = parse_wav(audio)
        except (ValueError, struct.error) as e:
            entry["error"] = str(e)
            return openai_error(400, f"provider double accepts PCM WAV uploads only: {e}")
        duration = len(pcm) / float(rate * channels * width) if rate else 0.0
        rms = pcm_rms(pcm, width)
        entry.update(sample_rate=rate, channels=channels, duration=duration, rms=rms)

        fault_resp = await self._apply_fault("stt", request)
        if fault_resp is not None:
            entry["fault"] = fault_resp.status
            return fault_resp
        await asyncio.sleep(self.state.delay_s("stt_ms"))

        silent = rms < self.state.silence_rms
        text, language = "", None
        if not silent and self.state.utterances:
            utt = self.state.utterances.popleft()
            text = utt["text"]
            language = utt.get("language")
        if not language:
            hint = fields.get("language")
            language = detect_language(text) if text else (hint if isinstance(hint, str) else "")
            language = language or "en"
        entry.update(silent=silent, text=text, language=language)

        fmt = entry["response_format"] or "json"
        usage = {"type": "duration", "seconds": int(math.ceil(duration))}
        if fmt == "verbose_json":
            segments = []
            if text:
                segments.append(
                    {
                        "id": 0,
                        "seek": 0,
                        "start": 0.0,
                        "end": round(duration, 3),
                        "text": text,
                        "tokens": [],
                        "temperature": 0.0,
                        "avg_logprob": -0.1,
                        "compression_ratio": 1.0,
                        "no_speech_prob": 0.01,
                    }
                )
            return web.json_response(
                {
                    "task": "transcribe",
                    # whisper names the language ("english"); the plugin normalises it
                    "language": _LANGUAGE_NAMES.get(language, language),
                    "duration": round(duration, 3),
                    "text": text,
                    "segments": segments,
                    "usage": usage,
                }
            )
        if fmt in ("text", "srt", "vtt"):
            return web.Response(text=text, content_type="text/plain")
        result: dict[str, Any] = {"text": text, "usage": usage}
        model = str(fields.get("model") or "")
        if model.startswith(("gpt-transcribe", "gpt-live-transcribe")):
            result["languages"] = [{"code": language}] if text else []
        return web.json_response(result)

    # -- /v1/audio/speech ---------------------------------------------------------------------

    async def speech(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await _read_json(request)
        except BadRequest as e:
            return openai_error(400, str(e))
        text = body.get("input")
        entry: dict[str, Any] = {
            "time": time.time(),
            "model": body.get("model"),
            "voice": body.get("voice"),
            "input": text,
            "response_format": body.get("response_format"),
            "stream_format": body.get("stream_format"),
            "speed": body.get("speed"),
            "instructions": body.get("instructions"),
        }
        self.state.speech.append(entry)
        if not isinstance(text, str) or not text.strip():
            entry["error"] = "empty input"
            return openai_error(400, "input is required")

        fault_resp = await self._apply_fault("tts", request)
        if fault_resp is not None:
            entry["fault"] = fault_resp.status
            return fault_resp

        language = detect_language(text)
        entry["language"] = language
        try:
            speed = float(body.get("speed") or 1.0)
            pcm, rate = await espeak_pcm_async(text, language, speed)
        except (RuntimeError, ValueError) as e:
            entry["error"] = str(e)
            return openai_error(500, f"provider double: {e}")
        entry.update(sample_rate=rate, duration=len(pcm) / (2.0 * rate), rms=pcm_rms(pcm))

        sse = body.get("stream_format") == "sse"
        try:
            if sse:
                audio, content_type = encode_audio(pcm, rate, body.get("response_format") or "mp3")
            else:
                audio, content_type = make_wav(pcm, rate), "audio/wav"
        except BadRequest as e:
            entry["error"] = str(e)
            return openai_error(400, str(e))
        entry["content_type"] = "text/event-stream" if sse else content_type
        entry["audio_content_type"] = content_type

        await asyncio.sleep(self.state.delay_s("tts_first_byte_ms"))
        resp = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": entry["content_type"],
                "x-request-id": f"req_{uuid.uuid4().hex[:16]}",
            },
        )
        await resp.prepare(request)
        sent = 0
        step = 8192
        try:
            if sse:
                for i in range(0, len(audio), step):
                    piece = audio[i : i + step]
                    b64 = base64.b64encode(piece).decode()
                    event = {"type": "speech.audio.delta", "audio": b64}
                    await resp.write(b"data: " + json.dumps(event).encode() + b"\n\n")
                    sent += len(piece)
                in_tokens = rough_tokens(text)
                out_tokens = max(1, int(len(pcm) / (2.0 * rate) * 20))
                done = {
                    "type": "speech.audio.done",
                    "usage": {
                        "input_tokens": in_tokens,
                        "output_tokens": out_tokens,
                        "total_tokens": in_tokens + out_tokens,
                    },
                }
                await resp.write(b"data: " + json.dumps(done).encode() + b"\n\n")
            else:
                for i in range(0, len(audio), step):
                    piece = audio[i : i + step]
                    await resp.write(piece)
                    sent += len(piece)
            await resp.write_eof()
            entry["completed"] = True
        except ConnectionResetError:
            entry["completed"] = False
        entry["bytes"] = sent
        return resp

    # -- control API --------------------------------------------------------------------------

    async def ctl_health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "ok": True,
                "espeak_ng": shutil.which("espeak-ng"),
                "uptime_s": time.time() - self.state.started,
            }
        )

    async def ctl_reset(self, request: web.Request) -> web.Response:
        self.state.reset(self.base_silence_rms, DEFAULT_REPLY)
        return web.json_response({"ok": True})

    async def ctl_script(self, request: web.Request) -> web.Response:
        body = await _read_json(request)
        rules = body.get("rules")
        if not isinstance(rules, list):
            raise BadRequest('body must be {"rules": [...]}')
        self.state.rules = [validate_rule(r) for r in rules]
        return web.json_response({"ok": True, "rules": len(self.state.rules)})

    async def ctl_utterances(self, request: web.Request) -> web.Response:
        body = await _read_json(request)
        items = body.get("utterances")
        if not isinstance(items, list):
            raise BadRequest('body must be {"utterances": [...]}')
        parsed = []
        for item in items:
            if isinstance(item, str):
                item = {"text": item}
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise BadRequest(
                    'each utterance must be a string or {"text": ..., "language": ...}'
                )
            parsed.append({"text": item["text"], "language": item.get("language")})
        self.state.utterances.extend(parsed)
        return web.json_response({"ok": True, "pending": len(self.state.utterances)})

    async def ctl_delays(self, request: web.Request) -> web.Response:
        body = await _read_json(request)
        bad = set(body) - DELAY_KEYS
        if bad:
            raise BadRequest(f"unknown delay keys: {sorted(bad)} (known: {sorted(DELAY_KEYS)})")
        for key, value in body.items():
            if value is None:
                self.state.delays.pop(key, None)
            elif isinstance(value, (int, float)) and value >= 0:
                self.state.delays[key] = float(value)
            else:
                raise BadRequest(f"{key} must be a number of milliseconds >= 0")
        return web.json_response({"ok": True, "delays": self.state.delays})

    async def ctl_faults(self, request: web.Request) -> web.Response:
        body = await _read_json(request)
        bad = set(body) - FAULT_ENDPOINTS
        if bad:
            known = sorted(FAULT_ENDPOINTS)
            raise BadRequest(f"unknown fault endpoints: {sorted(bad)} (known: {known})")
        for endpoint, spec in body.items():
            if spec is None or spec == {}:
                self.state.faults.pop(endpoint, None)
                continue
            if not isinstance(spec, dict) or set(spec) - FAULT_KEYS:
                raise BadRequest(f"fault spec keys: {sorted(FAULT_KEYS)}")
            times = spec.get("times")
            if times is not None and (not isinstance(times, int) or times < 1):
                raise BadRequest("fault times must be a positive integer")
            self.state.faults[endpoint] = Fault(
                status=int(spec.get("status", 500)),
                hang=bool(spec.get("hang", False)),
                times=times,
                message=str(spec.get("message") or "provider double: injected fault"),
                stall=parse_stall(spec.get("stall")),
            )
        return web.json_response(
            {"ok": True, "faults": {k: f.to_dict() for k, f in self.state.faults.items()}}
        )

    async def ctl_config(self, request: web.Request) -> web.Response:
        body = await _read_json(request)
        bad = set(body) - CONFIG_KEYS
        if bad:
            raise BadRequest(f"unknown config keys: {sorted(bad)} (known: {sorted(CONFIG_KEYS)})")
        if "silence_rms" in body:
            self.state.silence_rms = float(body["silence_rms"])
        if "default_reply" in body:
            self.state.default_reply = str(body["default_reply"])
        return web.json_response(
            {
                "ok": True,
                "silence_rms": self.state.silence_rms,
                "default_reply": self.state.default_reply,
            }
        )

    async def ctl_log(self, request: web.Request) -> web.Response:
        s = self.state
        return web.json_response(
            {
                "chat": s.chat,
                "transcriptions": s.transcriptions,
                "speech": s.speech,
                "pending_utterances": list(s.utterances),
                "rules": [r.to_dict() for r in s.rules],
                "delays": s.delays,
                "faults": {k: f.to_dict() for k, f in s.faults.items()},
                "silence_rms": s.silence_rms,
            }
        )

    # -- stalls: the request is accepted, then nothing (or one chunk, then nothing) ----------

    async def _stall(self, endpoint: str, request: web.Request, stall: str) -> web.StreamResponse:
        """Answer 200 with the endpoint's headers (and, for `first_chunk`, the start of a
        body), then send nothing more until the client gives up or the double is reset."""
        content_type, first_chunk = await stall_head(endpoint, request)
        resp = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": content_type,
                "x-request-id": f"req_{uuid.uuid4().hex[:16]}",
            },
        )
        await resp.prepare(request)
        try:
            if stall == "first_chunk":
                await resp.write(first_chunk)
            await self._hang(request)
        except ConnectionResetError:
            pass
        return resp

    # -- ElevenLabs: the multi-stream-input websocket the livekit plugin streams through -------

    async def elevenlabs_stream(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/text-to-speech/{voice_id}/multi-stream-input``: contexts of text in,
        base64 PCM (`output_format=pcm_<rate>`) and ``isFinal`` out, as ElevenLabs does. Each
        flushed piece of text is spoken (espeak-ng) as it comes; closing a context ends it.

        Faults (endpoint ``elevenlabs``): `status`/`hang` refuse or hold the handshake of a
        new connection; `stall` applies to the next context (one synthesis) on any connection."""
        if not request.headers.get("xi-api-key"):
            return openai_error(401, "xi-api-key is required")
        fault = self.state.faults.get("elevenlabs")
        if fault is not None and not fault.stall:
            fault_resp = await self._apply_fault("elevenlabs", request)
            if fault_resp is not None:
                return fault_resp
        rate = elevenlabs_rate(request.query.get("output_format", ""))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        contexts: dict[str, dict[str, Any]] = {}
        try:
            async for msg in ws:
                if msg.type != web.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                context_id = str(data.get("context_id") or "")
                ctx = contexts.get(context_id)
                if ctx is None:
                    ctx = contexts[context_id] = self._elevenlabs_context(request, context_id)
                    ctx["task"] = asyncio.create_task(self._elevenlabs_speaker(ws, ctx, rate))
                text = data.get("text") or ""
                if text.strip():
                    ctx["text"] += text
                    ctx["entry"]["input"] += text
                if (data.get("flush") or data.get("close_context")) and ctx["text"].strip():
                    ctx["queue"].put_nowait(ctx["text"].strip())
                    ctx["text"] = ""
                if data.get("close_context"):
                    ctx["queue"].put_nowait(None)
        finally:
            for ctx in contexts.values():
                ctx["task"].cancel()
        return ws

    def _elevenlabs_context(self, request: web.Request, context_id: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": time.time(),
            "provider": "elevenlabs",
            "voice": request.match_info["voice_id"],
            "model": request.query.get("model_id"),
            "language_hint": request.query.get("language_code"),
            "input": "",
            "context_id": context_id,
        }
        self.state.speech.append(entry)
        fault = self.state.faults.get("elevenlabs")
        stall = None
        if fault is not None and fault.stall:
            stall = fault.stall
            self.state.take_fault("elevenlabs")
            entry["fault"] = 200
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        return {"entry": entry, "text": "", "queue": queue, "stall": stall}

    async def _elevenlabs_speaker(
        self, ws: web.WebSocketResponse, ctx: dict[str, Any], rate: int
    ) -> None:
        """Speak each flushed piece of the context in order, then ``isFinal``; a stalled
        context sends nothing (`headers`) or one short chunk (`first_chunk`) instead."""
        entry = ctx["entry"]
        context_id = entry["context_id"]
        try:
            if ctx["stall"] is not None:
                if ctx["stall"] == "first_chunk":
                    await ctx["queue"].get()
                    chunk = base64.b64encode(tone_pcm(rate, 0.1)).decode()
                    await ws.send_json({"audio": chunk, "contextId": context_id})
                return  # never final: the client's own deadline has to notice
            duration = 0.0
            first = True
            while (text := await ctx["queue"].get()) is not None:
                spoken, spoken_rate = await espeak_pcm_async(text, detect_language(text))
                pcm = resample_pcm16(spoken, spoken_rate, rate)
                if first:
                    await asyncio.sleep(self.state.delay_s("tts_first_byte_ms"))
                    first = False
                step = rate // 5 * 2  # 200 ms a message
                for i in range(0, len(pcm), step):
                    audio = base64.b64encode(pcm[i : i + step]).decode()
                    await ws.send_json({"audio": audio, "contextId": context_id})
                duration += len(pcm) / (2.0 * rate)
            await ws.send_json({"isFinal": True, "contextId": context_id})
            entry.update(sample_rate=rate, duration=duration, completed=True)
        except (ConnectionResetError, RuntimeError) as e:  # the client went away
            entry.update(completed=False, error=str(e))


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as e:
        return openai_error(400, str(e))
    except web.HTTPException as e:
        if e.status >= 400:
            return openai_error(e.status, e.reason)
        raise


def build_app(*, silence_rms: float = DEFAULT_SILENCE_RMS) -> web.Application:
    double = ProviderDoubleApp(silence_rms=silence_rms)
    # large uploads: a 30 s 48 kHz WAV is ~2.9 MB
    app = web.Application(middlewares=[_errors], client_max_size=64 * 1024 * 1024)
    app["double"] = double
    r = app.router
    r.add_get("/v1/models", double.models)
    r.add_post("/v1/chat/completions", double.chat_completions)
    r.add_post("/v1/audio/transcriptions", double.transcriptions)
    r.add_post("/v1/audio/speech", double.speech)
    r.add_get("/v1/text-to-speech/{voice_id}/multi-stream-input", double.elevenlabs_stream)
    r.add_get("/_double/health", double.ctl_health)
    r.add_post("/_double/reset", double.ctl_reset)
    r.add_post("/_double/script", double.ctl_script)
    r.add_post("/_double/utterances", double.ctl_utterances)
    r.add_post("/_double/delays", double.ctl_delays)
    r.add_post("/_double/faults", double.ctl_faults)
    r.add_post("/_double/config", double.ctl_config)
    r.add_get("/_double/log", double.ctl_log)
    return app
