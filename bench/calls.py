"""Call benchmarks through the bundle (supervisord, embedded LiveKit, API, worker) with the
cached provider double: dispatch, turn latency, transfer latency, and the LiveKit transport
floor they contain."""

from __future__ import annotations

import asyncio
import secrets
import time

import numpy as np
from livekit import api, rtc

from bench.common import (
    BenchCaller,
    bench_double,
    log,
    running_bundle,
    speech_pcm,
    summary,
)
from tests.e2e.bundle import Bundle
from tests.e2e.scripts import CALLER_ASKS_PRICE, reception_transfers_to_sales
from tests.provider_double.client import ProviderDouble
from tests.support import wait_until

ZERO = {"stt_ms": 0, "llm_first_token_ms": 0, "tts_first_byte_ms": 0}
REALISTIC = {"stt_ms": 300, "llm_first_token_ms": 400, "tts_first_byte_ms": 250}
PROFILES = {"zero": ZERO, "realistic": REALISTIC}

TURN_SENTENCE = "How much does it cost?"
TURN_SPEED = 0.8
"""espeak at 80 % speed, as in earlier rounds (when LiveKit's audio turn detector held the same
sentence at full speed for its maximum delay), so the figure compares across rounds; the
utterance set of bench/turns.py covers voices and speeds."""
TURN_REPLY = "It depends on the service, and I can tell you all the prices right now."


def framework_constants() -> dict:
    """The end-of-speech delays the worker runs with: the settings' defaults
    (agent/turn_taking.py)."""
    from app.settings import Settings

    fields = Settings.model_fields
    return {
        "vad_min_silence_s": fields["vad_min_silence"].default,
        "endpointing_min_delay_s": fields["endpointing_min_delay"].default,
        "endpointing_max_delay_s": fields["endpointing_max_delay"].default,
        "source": (
            "app.settings defaults VAD_MIN_SILENCE, ENDPOINTING_MIN_DELAY, ENDPOINTING_MAX_DELAY "
            f"with TURN_DETECTOR={fields['turn_detector'].default} (agent/turn_taking.py)"
        ),
    }


async def answered(
    bundle: Bundle, *, caller: BenchCaller | None = None, **body: object
) -> BenchCaller:
    """A caller who joined and heard the greeting to its end."""
    caller = caller or BenchCaller(bundle.api_url)
    await caller.join(**body)
    await caller.wait_for_agent(timeout=20)
    await caller.wait_for_speech(since=caller.joined_at, timeout=30)
    await caller.wait_for_quiet(0.8)
    return caller


def call_detail(bundle: Bundle, call_id: int) -> dict:
    def ended() -> dict | None:
        call = bundle.api("GET", f"/api/calls/{call_id}", operator=True).json()
        return call if call["status"] == "ended" else None

    return wait_until(ended, timeout=30, what="the call to be closed in the CRM")


# -- 1. dispatch -----------------------------------------------------------------------------


async def dispatch(bundle: Bundle, calls: int = 50) -> dict:
    """Caller's join (room connected) -> the agent participant is in the room, one call at a
    time; and POST /api/calls -> agent joined."""
    joined, from_post = [], []
    for i in range(calls):
        caller = BenchCaller(bundle.api_url)
        posted = time.monotonic()
        await caller.join(language="en")
        try:
            joined.append(await caller.wait_for_agent(timeout=20) * 1000)
            from_post.append((caller.agent_joined_at - posted) * 1000)
        finally:
            await caller.hang_up()
        await asyncio.sleep(0.5)  # let the worker start a fresh idle process
        if (i + 1) % 10 == 0:
            log(f"dispatch: {i + 1}/{calls}")
    return {
        "join_to_agent_ms": summary(joined),
        "post_to_agent_ms": summary(from_post),
        "samples_ms": [round(x, 1) for x in joined],
    }


# -- 2. turn latency -----------------------------------------------------------------------


def ideal_ms(delays: dict, consts: dict, endpointing_s: float) -> float:
    """The shortest possible end of speech -> first agent audio, given the framework's design:
    the VAD's silence gates the (non-streaming) STT upload; the LLM starts on the final
    transcript (preemptive generation) while the endpointing delay runs from the same end of
    speech; TTS starts when both the turn is committed and the first sentence is there."""
    s = consts["vad_min_silence_s"] * 1000
    llm_ready = s + delays["stt_ms"] + delays["llm_first_token_ms"]
    return max(endpointing_s * 1000, llm_ready) + delays["tts_first_byte_ms"]


def applied_endpointing(consts: dict, end_of_turn_delay: float | None) -> float:
    """Which endpointing delay the turn detector chose for a turn, from the framework's own
    end_of_turn_delay (commit - end of speech): the maximum when it waited that long."""
    high = consts["endpointing_max_delay_s"]
    if end_of_turn_delay is not None and end_of_turn_delay >= high - 0.05:
        return high
    return consts["endpointing_min_delay_s"]


async def turn_calls(
    bundle: Bundle, double: ProviderDouble, delays: dict, *, calls: int, turns: int
) -> list[dict]:
    consts = framework_constants()
    await double.areset()
    await double.adelays(**delays)
    await double.ascript([{"match": {"last_role": "user"}, "reply": {"text": TURN_REPLY}}])
    pcm = await speech_pcm(TURN_SENTENCE, "en", TURN_SPEED)
    rows: list[dict] = []
    for c in range(calls):
        caller = await answered(bundle, language="en")
        measured = []
        try:
            for _ in range(turns):
                await double.autterances([{"text": TURN_SENTENCE, "language": "en"}])
                spoken = await caller.say_pcm(pcm)
                await caller.wait_for(
                    lambda c=caller, s=spoken: c.first_loud_after(s.ended) is not None, 30, "reply"
                )
                measured.append((caller.first_loud_after(spoken.ended) - spoken.ended) * 1000)
                await caller.wait_for_quiet(0.8)
        finally:
            await caller.hang_up()
        call = call_detail(bundle, caller.call["call_id"])
        transcript = call["transcript"]
        pairs = [
            (t, transcript[i + 1])
            for i, t in enumerate(transcript[:-1])
            if t["role"] == "caller" and transcript[i + 1]["role"] == "agent"
        ]
        for i, value in enumerate(measured):
            user, agent = pairs[i] if i < len(pairs) else ({}, {})
            eot = user.get("end_of_turn_delay")
            endpointing = applied_endpointing(consts, eot)
            ideal = ideal_ms(delays, consts, endpointing)
            e2e = agent.get("e2e_latency")
            rows.append(
                {
                    "call": c,
                    "measured_ms": round(value, 1),
                    "endpointing_s": endpointing,
                    "ideal_ms": round(ideal, 1),
                    "overhead_ms": round(value - ideal, 1),
                    "end_of_turn_delay_ms": _ms(eot),
                    "transcription_delay_ms": _ms(user.get("transcription_delay")),
                    "llm_ttft_ms": _ms(agent.get("llm_ttft")),
                    "tts_ttfb_ms": _ms(agent.get("tts_ttfb")),
                    "agent_e2e_ms": _ms(e2e),
                    "agent_side_overhead_ms": None if e2e is None else round(e2e * 1000 - ideal, 1),
                    "caller_agent_transport_ms": None
                    if e2e is None
                    else round(value - e2e * 1000, 1),
                }
            )
        log(f"turn: call {c + 1}/{calls}: {[round(m) for m in measured]} ms")
    return rows


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def summarise_turns(rows: list[dict]) -> dict:
    keys = (
        "measured_ms",
        "ideal_ms",
        "overhead_ms",
        "agent_side_overhead_ms",
        "caller_agent_transport_ms",
        "end_of_turn_delay_ms",
        "transcription_delay_ms",
        "llm_ttft_ms",
        "tts_ttfb_ms",
        "agent_e2e_ms",
    )
    out = {key: summary([r[key] for r in rows if r.get(key) is not None]) for key in keys}
    out["turns_at_max_endpointing"] = sum(
        1 for r in rows if r["endpointing_s"] == framework_constants()["endpointing_max_delay_s"]
    )
    return out


# -- 3. transfer latency -----------------------------------------------------------------------


async def transfer_calls(
    bundle: Bundle, double: ProviderDouble, delays: dict, *, calls: int
) -> list[dict]:
    """Transfer tool result (the `transfer` event the tool writes just before it returns the new
    persona) -> first loud frame of the new persona at the caller, minus the TTS first byte."""
    rows = []
    sentence = CALLER_ASKS_PRICE["en"]
    pcm = await speech_pcm(sentence, "en")
    for c in range(calls):
        await double.areset()
        await double.adelays(**delays)
        await double.ascript(reception_transfers_to_sales("en"))
        caller = await answered(bundle, language="en")
        try:
            await double.autterances([{"text": sentence, "language": "en"}])
            spoken = await caller.say_pcm(pcm)
            await caller.wait_for_speech(since=spoken.ended, frames=25, timeout=30)
            await caller.wait_for_quiet(1.0)
        finally:
            await caller.hang_up()
        call = call_detail(bundle, caller.call["call_id"])
        events = call["events"]
        transfer = next(e for e in events if e["kind"] == "transfer")
        entered = next(
            (e for e in events if e["kind"] == "persona_entered" and e["persona"] == "sales"),
            None,
        )
        at = _epoch(transfer["at"])
        first = caller.first_loud_wall_after(at)
        measured = (first - at) * 1000
        tts = delays["tts_first_byte_ms"]
        rows.append(
            {
                "call": c,
                "transfer_to_first_audio_ms": round(measured, 1),
                "minus_tts_first_byte_ms": round(measured - tts, 1),
                "transfer_to_persona_entered_ms": None
                if entered is None
                else round((_epoch(entered["at"]) - at) * 1000, 1),
            }
        )
        log(f"transfer: call {c + 1}/{calls}: {measured - tts:.0f} ms")
    return rows


def _epoch(iso: str) -> float:
    from app.crm.clock import parse

    return parse(iso).timestamp()


# -- the LiveKit transport floor -----------------------------------------------------------


async def transport_probe(bundle: Bundle, samples: int = 20) -> dict:
    """One-way audio latency between two plain SDK participants through the embedded LiveKit
    server: a 300 ms tone is played into A's microphone; B notes its first loud frame. No
    agent, no provider: what every caller->agent and agent->caller hop costs by itself."""
    key, secret = bundle.env["LIVEKIT_API_KEY"], bundle.env["LIVEKIT_API_SECRET"]
    room_name = f"probe-{secrets.token_hex(4)}"

    def token(identity: str) -> str:
        grants = api.VideoGrants(room_join=True, room=room_name)
        return api.AccessToken(key, secret).with_identity(identity).with_grants(grants).to_jwt()

    rate, step = 48000, 960
    sender, receiver = rtc.Room(), rtc.Room()
    loud: list[float] = []
    readers: list[asyncio.Task] = []

    async def listen(track: rtc.Track) -> None:
        async for event in rtc.AudioStream(track, sample_rate=rate, num_channels=1):
            data = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float32)
            if data.size and np.sqrt(np.mean(data**2)) > 200:
                loud.append(time.monotonic())

    def on_track(track: rtc.Track, *_: object) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            readers.append(asyncio.create_task(listen(track)))

    receiver.on("track_subscribed", on_track)
    await receiver.connect(bundle.livekit_url, token("probe-receiver"))
    await sender.connect(bundle.livekit_url, token("probe-sender"))
    source = rtc.AudioSource(rate, 1, queue_size_ms=100)
    track = rtc.LocalAudioTrack.create_audio_track("probe", source)
    await sender.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    )
    silence = rtc.AudioFrame(bytes(step * 2), rate, 1, step)
    t = np.arange(step) / rate
    tone = rtc.AudioFrame(
        (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16).tobytes(), rate, 1, step
    )
    results = []
    try:
        for _ in range(50):  # 1 s of silence: the track is subscribed and flowing
            await source.capture_frame(silence)
        for _ in range(samples):
            for _ in range(35):
                await source.capture_frame(silence)
            started = time.monotonic() + source.queued_duration
            for _ in range(15):
                await source.capture_frame(tone)
            for _ in range(25):
                await source.capture_frame(silence)
            first = next((x for x in loud if x >= started - 0.01), None)
            if first is not None:
                results.append((first - started) * 1000)
    finally:
        await sender.disconnect()
        await receiver.disconnect()
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await source.aclose()
    return {"one_way_ms": summary(results), "samples_ms": [round(x, 1) for x in results]}


# -- entry points for bench.run ------------------------------------------------------------


def run_dispatch(calls: int = 50) -> dict:
    with bench_double() as double, running_bundle(double) as bundle:
        return asyncio.run(dispatch(bundle, calls))


def run_turns(calls: int = 4, turns: int = 5) -> dict:
    async def main(bundle: Bundle, double: ProviderDouble) -> dict:
        out: dict = {"constants": framework_constants(), "sentence": TURN_SENTENCE}
        out["transport"] = await transport_probe(bundle)
        for name, delays in PROFILES.items():
            rows = await turn_calls(bundle, double, delays, calls=calls, turns=turns)
            out[name] = {"delays": delays, "summary": summarise_turns(rows), "turns": rows}
        return out

    with bench_double() as double, running_bundle(double) as bundle:
        return asyncio.run(main(bundle, double))


def run_transfers(calls: int = 8) -> dict:
    keys = (
        "transfer_to_first_audio_ms",
        "minus_tts_first_byte_ms",
        "transfer_to_persona_entered_ms",
    )

    async def main(bundle: Bundle, double: ProviderDouble) -> dict:
        out: dict = {}
        for name, delays in PROFILES.items():
            rows = await transfer_calls(bundle, double, delays, calls=calls)
            out[name] = {
                "delays": delays,
                "summary": {k: summary([r[k] for r in rows if r.get(k) is not None]) for k in keys},
                "calls": rows,
            }
        return out

    with bench_double() as double, running_bundle(double) as bundle:
        return asyncio.run(main(bundle, double))
