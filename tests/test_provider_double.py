"""The provider double, driven by the real livekit openai plugins over HTTP (offline).

The double runs as a real process (python -m tests.provider_double); openai.LLM / STT / TTS
point their base_url at it exactly as they would at OpenAI.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from livekit import rtc
from livekit.agents import APIConnectOptions, APIError, APIStatusError, APITimeoutError, llm
from livekit.agents.llm import function_tool
from livekit.plugins import openai

from tests.provider_double import ProviderDouble, ProviderDoubleError, espeak_pcm

NO_RETRY = APIConnectOptions(max_retry=0, retry_interval=0.05, timeout=5.0)


@pytest.fixture(scope="module")
def double() -> Iterator[ProviderDouble]:
    with ProviderDouble() as d:
        yield d


@pytest.fixture(autouse=True)
def _clean(double: ProviderDouble) -> None:
    double.reset()


@function_tool
async def lookup_customer(phone: str) -> str:
    """Look up the caller's CRM record by phone number.

    Args:
        phone: the caller's phone number in E.164 form
    """
    return "not found"


@function_tool
async def transfer_to_sales(reason: str) -> str:
    """Transfer the caller to Sarah in Sales.

    Args:
        reason: why the caller needs sales
    """
    return "transferred"


def _chat_ctx(system: str, *turns: tuple[str, str]) -> llm.ChatContext:
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content=system)
    for role, text in turns:
        ctx.add_message(role=role, content=text)
    return ctx


async def _collect(
    model: llm.LLM, ctx: llm.ChatContext, tools: list | None = None, **kw
) -> tuple[str, list[llm.FunctionToolCall], float | None]:
    """Run one chat request; (text, tool calls, seconds to the first text/tool chunk)."""
    text, calls, first = "", [], None
    t0 = time.monotonic()
    async with model.chat(chat_ctx=ctx, tools=tools or [], **kw) as stream:
        async for chunk in stream:
            if chunk.delta is None:
                continue
            if (chunk.delta.content or chunk.delta.tool_calls) and first is None:
                first = time.monotonic() - t0
            text += chunk.delta.content or ""
            calls.extend(chunk.delta.tool_calls)
    return text, calls, first


def _frame(pcm: bytes, rate: int) -> rtc.AudioFrame:
    return rtc.AudioFrame(pcm, rate, 1, len(pcm) // 2)


def _frames_rms(frames: list[rtc.AudioFrame]) -> float:
    data = np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])
    return float(np.sqrt(np.mean(data.astype(np.float64) ** 2)))


def _make_llm(double: ProviderDouble, **kw) -> openai.LLM:
    return openai.LLM(model="gpt-4.1-mini", base_url=double.base_url, api_key="test", **kw)


# ---------------------------------------------------------------------------------------------
# process and control API


def test_process_and_control_api(double: ProviderDouble) -> None:
    assert double.running
    assert double.base_url.startswith("http://127.0.0.1:") and double.base_url.endswith("/v1")
    assert double.health()["ok"] is True
    models = httpx.get(f"{double.base_url}/models").json()
    assert "gpt-4.1-mini" in [m["id"] for m in models["data"]]
    # typos in a script are refused, not silently ignored
    with pytest.raises(ProviderDoubleError, match="unknown match keys"):
        double.script([{"match": {"last_contans": "x"}, "reply": {"text": "y"}}])
    with pytest.raises(ProviderDoubleError, match="unknown delay keys"):
        double.delays(llm_ms=5)
    with pytest.raises(ProviderDoubleError, match="unknown fault endpoints"):
        double.faults(tts2={"status": 500})


def test_non_stream_completion_and_default_reply(double: ProviderDouble) -> None:
    double.script(
        [{"match": {"last_contains": "weather"}, "reply": {"tool_calls": [{"name": "w"}]}}]
    )
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    resp = httpx.post(f"{double.base_url}/chat/completions", json=body).json()
    assert resp["object"] == "chat.completion"
    assert resp["choices"][0]["message"]["content"] == "OK."  # no rule matched
    assert resp["choices"][0]["finish_reason"] == "stop"
    body["messages"][0]["content"] = [{"type": "text", "text": "The WEATHER please"}]
    resp = httpx.post(f"{double.base_url}/chat/completions", json=body).json()
    assert resp["choices"][0]["finish_reason"] == "tool_calls"
    assert resp["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "w"


# ---------------------------------------------------------------------------------------------
# LLM through openai.LLM


@pytest.mark.asyncio
async def test_llm_scripted_text_and_tool_call(double: ProviderDouble) -> None:
    await double.ascript(
        [
            {
                "match": {"last_role": "user", "any_user_contains": "fiber"},
                "reply": {
                    "text": "Let me find your record.",
                    "tool_calls": [
                        {"name": "lookup_customer", "arguments": {"phone": "+966500000000"}}
                    ],
                },
                "times": 1,
            },
            {"match": {"last_role": "tool"}, "reply": {"text": "Thanks, I found you."}},
            {"match": {"last_role": "user"}, "reply": {"text": "مرحبا بك في أورنينا"}},
        ]
    )
    model = _make_llm(double)
    try:
        ctx = _chat_ctx("You are Ahmed at reception.", ("user", "I want the fiber package"))
        text, calls, _ = await _collect(model, ctx, [lookup_customer, transfer_to_sales])
        assert text == "Let me find your record."
        assert len(calls) == 1
        assert calls[0].name == "lookup_customer"
        assert calls[0].call_id
        assert json.loads(calls[0].arguments) == {"phone": "+966500000000"}

        # the tool step: the request now ends with the tool output
        call = calls[0]
        ctx.insert(llm.FunctionCall(call_id=call.call_id, name=call.name, arguments=call.arguments))
        ctx.insert(
            llm.FunctionCallOutput(
                call_id=calls[0].call_id, name="lookup_customer", output="found", is_error=False
            )
        )
        text, calls2, _ = await _collect(model, ctx, [lookup_customer])
        assert (text, calls2) == ("Thanks, I found you.", [])

        # the first rule was `times: 1`: the same question now falls to the next user rule
        ctx2 = _chat_ctx("You are Ahmed.", ("user", "fiber again"))
        text, calls3, _ = await _collect(model, ctx2, [lookup_customer])
        assert text == "مرحبا بك في أورنينا" and calls3 == []
    finally:
        await model.aclose()

    log = await double.alog()
    assert [c["rule"] for c in log["chat"]] == [0, 1, 2]
    first = log["chat"][0]
    assert first["model"] == "gpt-4.1-mini" and first["stream"] is True
    assert first["tools"] == ["lookup_customer", "transfer_to_sales"]
    assert first["messages"][0]["role"] == "system"
    assert log["chat"][1]["last_role"] == "tool"


@pytest.mark.asyncio
async def test_llm_rules_target_persona_and_tools(double: ProviderDouble) -> None:
    await double.ascript(
        [
            {"match": {"system_contains": "sarah"}, "reply": {"text": "Sarah here."}},
            {
                "match": {"tool_offered": "transfer_to_sales", "last_contains": "buy"},
                "reply": {
                    "tool_calls": [{"name": "transfer_to_sales", "arguments": '{"reason": "buy"}'}]
                },
            },
            {"match": {"tool_not_offered": "lookup_customer"}, "reply": {"text": "No tools."}},
        ]
    )
    model = _make_llm(double)
    try:
        sales = _chat_ctx("You are Sarah from Sales.", ("user", "I want to buy"))
        assert (await _collect(model, sales, [transfer_to_sales]))[0] == "Sarah here."

        reception = _chat_ctx("You are Ahmed.", ("user", "I want to BUY something"))
        text, calls, _ = await _collect(model, reception, [lookup_customer, transfer_to_sales])
        assert text == "" and [c.name for c in calls] == ["transfer_to_sales"]
        assert calls[0].arguments == '{"reason": "buy"}'

        assert (await _collect(model, reception, []))[0] == "No tools."
        assert (await _collect(model, reception, [lookup_customer]))[0] == "OK."
    finally:
        await model.aclose()


@pytest.mark.asyncio
async def test_llm_fault_status_and_times(double: ProviderDouble) -> None:
    model = _make_llm(double)
    try:
        await double.afaults({"llm": {"status": 500}})
        ctx = _chat_ctx("You are Ahmed.", ("user", "hello"))
        with pytest.raises(APIStatusError) as err:
            await _collect(model, ctx, conn_options=NO_RETRY)
        assert err.value.status_code == 500

        # two failures, then the plugin's own retry gets through
        await double.afaults({"llm": {"status": 503, "times": 2}})
        retry = APIConnectOptions(max_retry=2, retry_interval=0.05, timeout=5.0)
        text, _, _ = await _collect(model, ctx, conn_options=retry)
        assert text == "OK."
    finally:
        await model.aclose()
    log = await double.alog()
    assert [c.get("fault") for c in log["chat"]] == [500, 503, 503, None]
    assert log["faults"] == {}


@pytest.mark.asyncio
async def test_llm_hang_times_out_and_reset_releases(double: ProviderDouble) -> None:
    await double.afaults({"llm": {"hang": True, "times": 1}})
    model = _make_llm(double)
    try:
        ctx = _chat_ctx("You are Ahmed.", ("user", "hello"))
        t0 = time.monotonic()
        with pytest.raises(APITimeoutError):
            await _collect(model, ctx, conn_options=APIConnectOptions(max_retry=0, timeout=0.5))
        assert time.monotonic() - t0 >= 0.5
        # the hang was used up: the next request answers
        assert (await _collect(model, ctx, conn_options=NO_RETRY))[0] == "OK."
    finally:
        await model.aclose()


@pytest.mark.asyncio
async def test_llm_first_token_delay(double: ProviderDouble) -> None:
    await double.adelays(llm_first_token_ms=400)
    model = _make_llm(double)
    try:
        ctx = _chat_ctx("You are Ahmed.", ("user", "hello"))
        text, _, first = await _collect(model, ctx, conn_options=NO_RETRY)
    finally:
        await model.aclose()
    assert text == "OK."
    assert first is not None and first >= 0.4


# ---------------------------------------------------------------------------------------------
# STT through openai.STT


@pytest.mark.asyncio
@pytest.mark.parametrize("model", ["whisper-1", None])
async def test_stt_returns_registered_utterance(double: ProviderDouble, model: str | None) -> None:
    pcm, rate = espeak_pcm("I would like to buy the fiber package", "en")
    duration = len(pcm) / 2 / rate
    await double.autterances(
        [{"text": "I'd like the fiber package.", "language": "en"}, "مرحبا، أريد شراء باقة"]
    )
    kw = {"model": model} if model else {}
    stt = openai.STT(base_url=double.base_url, api_key="test", language="en", **kw)
    try:
        ev = await stt.recognize([_frame(pcm, rate)], conn_options=NO_RETRY)
        assert ev.alternatives[0].text == "I'd like the fiber package."
        assert ev.alternatives[0].language == "en"

        silence = b"\x00\x00" * 16000
        ev = await stt.recognize([_frame(silence, 16000)], conn_options=NO_RETRY)
        assert ev.alternatives[0].text == ""

        ev = await stt.recognize([_frame(pcm, rate)], conn_options=NO_RETRY)
        assert ev.alternatives[0].text == "مرحبا، أريد شراء باقة"
        if model == "whisper-1":  # verbose_json carries the (detected) language
            assert ev.alternatives[0].language == "ar"

        ev = await stt.recognize([_frame(pcm, rate)], conn_options=NO_RETRY)
        assert ev.alternatives[0].text == ""  # queue empty
    finally:
        await stt.aclose()

    log = (await double.alog())["transcriptions"]
    assert len(log) == 4
    expected_format = "verbose_json" if model == "whisper-1" else "json"
    assert {e["response_format"] for e in log} == {expected_format}
    assert log[0]["model"] == (model or "gpt-4o-mini-transcribe")
    assert log[0]["language_hint"] == "en"
    assert log[0]["duration"] == pytest.approx(duration, abs=0.01)
    assert log[0]["sample_rate"] == rate and log[0]["rms"] > 500
    assert log[1]["silent"] is True and log[1]["duration"] == pytest.approx(1.0)
    assert log[1]["rms"] == 0.0 and log[1]["text"] == ""
    assert [e["text"] for e in log] == [
        "I'd like the fiber package.",
        "",
        "مرحبا، أريد شراء باقة",
        "",
    ]


@pytest.mark.asyncio
async def test_stt_delay_and_fault(double: ProviderDouble) -> None:
    pcm, rate = espeak_pcm("hello", "en")
    await double.autterances(["hello"])
    await double.adelays(stt_ms=300)
    stt = openai.STT(model="whisper-1", base_url=double.base_url, api_key="test")
    try:
        t0 = time.monotonic()
        ev = await stt.recognize([_frame(pcm, rate)], conn_options=NO_RETRY)
        assert time.monotonic() - t0 >= 0.3
        assert ev.alternatives[0].text == "hello"

        await double.afaults(stt={"status": 500, "times": 1})
        with pytest.raises(APIStatusError):
            await stt.recognize([_frame(pcm, rate)], conn_options=NO_RETRY)
    finally:
        await stt.aclose()


def test_stt_hang(double: ProviderDouble) -> None:
    """A hanging transcription never answers (checked with a short client timeout)."""
    double.faults(stt={"hang": True})
    wav = _wav_bytes(*espeak_pcm("hello", "en"))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{double.base_url}/audio/transcriptions",
            files={"file": ("a.wav", wav, "audio/wav")},
            data={"model": "whisper-1"},
            timeout=httpx.Timeout(5.0, read=0.5),
        )
    double.wait_until(lambda log: len(log["transcriptions"]) == 1)


def _wav_bytes(pcm: bytes, rate: int) -> bytes:
    from tests.provider_double import make_wav

    return make_wav(pcm, rate)


# ---------------------------------------------------------------------------------------------
# TTS through openai.TTS


async def _synthesize(tts: openai.TTS, text: str) -> tuple[list[rtc.AudioFrame], float]:
    frames, first = [], None
    t0 = time.monotonic()
    async with tts.synthesize(text, conn_options=NO_RETRY) as stream:
        async for ev in stream:
            if first is None:
                first = time.monotonic() - t0
            frames.append(ev.frame)
    return frames, first or 0.0


@pytest.mark.asyncio
async def test_tts_english_and_arabic(double: ProviderDouble) -> None:
    tts = openai.TTS(model="tts-1", voice="alloy", base_url=double.base_url, api_key="test")
    try:
        frames, _ = await _synthesize(tts, "Hello")
        assert frames and frames[0].sample_rate == 24000
        assert sum(f.samples_per_channel for f in frames) / 24000 > 0.2
        assert _frames_rms(frames) > 300

        frames, _ = await _synthesize(tts, "مرحبا بك في أورنينا، كيف يمكنني مساعدتك؟")
        assert sum(f.samples_per_channel for f in frames) / 24000 > 1.0
        assert _frames_rms(frames) > 300
    finally:
        await tts.aclose()

    log = (await double.alog())["speech"]
    assert [(e["voice"], e["model"], e["language"]) for e in log] == [
        ("alloy", "tts-1", "en"),
        ("alloy", "tts-1", "ar"),
    ]
    assert log[0]["input"] == "Hello" and log[0]["stream_format"] == "audio"
    assert log[0]["content_type"] == "audio/wav" and log[0]["bytes"] > 1000


@pytest.mark.asyncio
@pytest.mark.parametrize("response_format", ["mp3", "pcm"])
async def test_tts_sse_models(double: ProviderDouble, response_format: str) -> None:
    """gpt-4o-mini-tts asks for stream_format=sse: audio deltas in the requested format."""
    tts = openai.TTS(
        voice="coral",
        base_url=double.base_url,
        api_key="test",
        response_format=response_format,
    )
    try:
        frames, _ = await _synthesize(tts, "Good morning, this is Sarah.")
    finally:
        await tts.aclose()
    assert sum(f.samples_per_channel for f in frames) / 24000 > 0.5
    assert _frames_rms(frames) > 300
    entry = (await double.alog())["speech"][0]
    assert entry["model"] == "gpt-4o-mini-tts" and entry["stream_format"] == "sse"
    assert entry["content_type"] == "text/event-stream"


@pytest.mark.asyncio
async def test_tts_delay_and_fault(double: ProviderDouble) -> None:
    tts = openai.TTS(model="tts-1", voice="nova", base_url=double.base_url, api_key="test")
    try:
        await double.adelays(tts_first_byte_ms=300)
        frames, first = await _synthesize(tts, "One moment please.")
        assert frames and first >= 0.3

        await double.adelays(tts_first_byte_ms=None)
        await double.afaults(tts={"status": 500})
        with pytest.raises(APIError):
            await _synthesize(tts, "This fails.")
        await double.afaults(tts=None)
        frames, _ = await _synthesize(tts, "This works again.")
        assert frames
    finally:
        await tts.aclose()
    log = (await double.alog())["speech"]
    assert [e.get("fault") for e in log] == [None, 500, None]


# ---------------------------------------------------------------------------------------------
# stalls: 200 and the headers (and perhaps a first chunk), then nothing until a reset


@pytest.mark.parametrize(
    ("endpoint", "path", "body"),
    [
        ("llm", "/chat/completions", {"model": "m", "stream": True, "messages": []}),
        ("tts", "/audio/speech", {"model": "tts-1", "voice": "alloy", "input": "hello"}),
    ],
)
@pytest.mark.parametrize("stall", ["headers", "first_chunk"])
def test_a_stall_answers_then_holds_until_reset(
    double: ProviderDouble, endpoint: str, path: str, body: dict, stall: str
) -> None:
    double.faults({endpoint: {"stall": stall, "times": 1}})
    timeout = httpx.Timeout(5.0, read=0.5)
    with httpx.stream("POST", f"{double.base_url}{path}", json=body, timeout=timeout) as resp:
        assert resp.status_code == 200
        chunks = resp.iter_raw()
        if stall == "first_chunk":
            assert next(chunks)
        with pytest.raises(httpx.ReadTimeout):
            next(chunks)
    double.wait_until(lambda log: log["faults"] == {})
    # a held request is released by a reset: it ends instead of waiting for the client
    double.faults({endpoint: {"stall": "headers"}})
    with httpx.stream("POST", f"{double.base_url}{path}", json=body, timeout=10.0) as resp:
        double.reset()
        assert resp.read() == b""


def test_a_stall_must_be_named(double: ProviderDouble) -> None:
    with pytest.raises(ProviderDoubleError, match="stall must be one of"):
        double.faults(tts={"stall": "later"})
    with pytest.raises(ProviderDoubleError, match="unknown fault endpoints"):
        double.faults(voice={"stall": "headers"})
