"""Turn-taking over the utterance set (bench/data/utterances.json), per voice.

For every voice of a language, one call through the bundle speaks every utterance of that
language, parts and pauses as written, and waits for the reply (two sentences) to end. Per turn:

- voice to voice: the caller's last speech sample -> the reply's first loud frame at the caller;
- end of turn delay: the framework's figure in the CRM (commit - end of speech);
- held: that delay reached the configured maximum endpointing delay;
- cut in: the reply started before the caller's last part ended (inside a pause);
- uploads: STT requests the turn made (one per part expected; more means the VAD split a part).

Profiles: the provider double at zero delay, and realistic delays (STT 300 ms, LLM first token
400 ms then 15 ms per word, TTS first byte 250 ms). Variants run the same set with other
turn-taking settings (environment of the bundle), so a change is measured before and after in
one run.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.calls import answered, call_detail
from bench.common import BenchCaller, bench_double, log, running_bundle, summary
from bench.voices import Voice, utterance_audio, voices_for
from tests.e2e.bundle import Bundle
from tests.provider_double.client import ProviderDouble

UTTERANCES = Path(__file__).parent / "data" / "utterances.json"
REALISTIC = {"stt_ms": 300, "llm_first_token_ms": 400, "llm_chunk_ms": 15, "tts_first_byte_ms": 250}
ZERO = {"stt_ms": 0, "llm_first_token_ms": 0, "llm_chunk_ms": 0, "tts_first_byte_ms": 0}
REPLY = {
    "en": "Sure, I can help you with that right now. Is there anything else?",
    "ar": "بالتأكيد، يمكنني مساعدتك في ذلك الآن. هل من شيء آخر؟",
}
"""Two sentences: the first audio of a reply of several sentences is what each turn measures."""
REPLY_TIMEOUT = 15.0
QUIET = 0.6
"""Seconds of the agent's silence that end its reply before the caller speaks again."""
VARIANTS: dict[str, dict[str, str]] = {
    "framework": {
        "TURN_DETECTOR": "audio",
        "VAD_MIN_SILENCE": "0.55",
        "ENDPOINTING_MIN_DELAY": "0.3",
        "ENDPOINTING_MAX_DELAY": "2.5",
    },
    "ours": {},
    "ours-vad-0.15": {"VAD_MIN_SILENCE": "0.15", "ENDPOINTING_MIN_DELAY": "0.15"},
}
"""`framework`: the worker before this benchmark existed (LiveKit's audio model, silero's
default silence, the streaming detector's default delays). `ours`: the settings' defaults
(agent/turn_taking.py). `ours-vad-0.15`: ours with a shorter silence before the transcript and
the answer (what it would gain and cost)."""


@dataclass
class Utterance:
    id: str
    language: str
    kind: str
    parts: list[str]
    pauses_ms: list[int] = field(default_factory=list)


def utterances(language: str | None = None) -> list[Utterance]:
    items = json.loads(UTTERANCES.read_text())["utterances"]
    out = [Utterance(**item) for item in items]
    return [u for u in out if language is None or u.language == language]


def _norm(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text).strip().casefold()


async def call_over_set(
    bundle: Bundle,
    double: ProviderDouble,
    voice: Voice,
    items: list[Utterance],
    delays: dict,
    max_delay: float,
) -> list[dict]:
    """One call in which the caller speaks `items` in `voice`; a row per turn."""
    language = voice.language
    audio = {u.id: await utterance_audio(u.parts, u.pauses_ms, voice) for u in items}
    await double.areset()
    await double.adelays(**delays)
    script = [{"match": {"last_role": "user"}, "reply": {"text": REPLY[language]}}]
    await double.ascript(script)
    caller: BenchCaller = await answered(bundle, language=language)
    rows: list[dict] = []
    try:
        for u in items:
            pcm, part_ends = audio[u.id]
            await double.autterances([{"text": p, "language": language} for p in u.parts])
            began_wall = time.time()
            spoken = await caller.say_pcm(pcm)
            start = spoken.ended - spoken.duration
            first_part_end = start + part_ends[0]
            try:
                await caller.wait_for(
                    lambda s=first_part_end: caller.first_loud_after(s) is not None,
                    REPLY_TIMEOUT + spoken.duration,
                    "a reply",
                )
            except TimeoutError:
                pass
            first = caller.first_loud_after(first_part_end)
            cut_in = first is not None and first < spoken.ended
            if cut_in:  # the rest of the reply to the fragment, then the reply to the rest
                await caller.wait_for(
                    lambda s=spoken.ended: caller.first_loud_after(s) is not None,
                    REPLY_TIMEOUT,
                    "a reply after the cut-in",
                )
            replied = caller.first_loud_after(spoken.ended)
            rows.append(
                {
                    "id": u.id,
                    "kind": u.kind,
                    "language": language,
                    "voice": voice.name,
                    "parts": len(u.parts),
                    "speech_s": round(spoken.duration, 2),
                    "cut_in": cut_in,
                    "voice_to_voice_ms": None
                    if cut_in or replied is None
                    else round((replied - spoken.ended) * 1000, 1),
                    "began_wall": began_wall,
                    "ended_wall": spoken.ended_wall,
                    "last_part": u.parts[-1],
                }
            )
            await caller.wait_for_quiet(QUIET)
            if await double.autterances([]):  # a part never transcribed: start clean
                rows[-1]["leftover"] = True
                await double.areset()
                await double.adelays(**delays)
                await double.ascript(script)
    finally:
        await caller.hang_up()
    log_entries = (await double.alog())["transcriptions"]
    _attach_uploads(rows, log_entries)
    call = call_detail(bundle, caller.call["call_id"])
    _attach_end_of_turn(rows, call["transcript"], max_delay)
    leftover = (await double.alog())["pending_utterances"]
    if leftover:
        log(f"turns: {len(leftover)} utterances never transcribed in this call")
    return rows


def _attach_uploads(rows: list[dict], transcriptions: list[dict]) -> None:
    for i, row in enumerate(rows):
        until = rows[i + 1]["began_wall"] if i + 1 < len(rows) else float("inf")
        row["uploads"] = sum(
            1
            for t in transcriptions
            if not t.get("silent") and row["began_wall"] <= t["time"] < until
        )


def _attach_end_of_turn(rows: list[dict], transcript: list[dict], max_delay: float) -> None:
    """Each row's caller turn in the CRM (the next caller turn that holds its last part) and
    the framework's figures of the agent turn that answered it."""
    at = 0
    for row in rows:
        want = _norm(row.pop("last_part"))
        match, reply = None, None
        for j in range(at, len(transcript)):
            turn = transcript[j]
            if turn["role"] == "caller" and want and want in _norm(turn["text"]):
                match, at = turn, j + 1
                reply = next((t for t in transcript[j + 1 :] if t["role"] == "agent"), None)
                break
        eot = match.get("end_of_turn_delay") if match else None
        row["end_of_turn_delay_ms"] = _ms(eot)
        row["held"] = eot is not None and eot >= max_delay - 0.05
        for key in ("transcription_delay",):
            row[f"{key}_ms"] = _ms(match.get(key)) if match else None
        for key in ("llm_ttft", "tts_ttfb", "e2e_latency"):
            row[f"{key}_ms"] = _ms(reply.get(key)) if reply else None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def summarise(rows: list[dict]) -> dict:
    def rate(part: list[dict], key: str) -> float | None:
        return round(sum(1 for r in part if r[key]) / len(part), 3) if part else None

    paused = [r for r in rows if r["parts"] > 1]
    known = [r for r in rows if r["end_of_turn_delay_ms"] is not None]
    return {
        "turns": len(rows),
        "held_rate": rate(known, "held"),
        "held": [r["id"] for r in known if r["held"]],
        "cut_in_rate": rate(rows, "cut_in"),
        "cut_in_rate_of_paused": rate(paused, "cut_in"),
        "cut_in": [r["id"] for r in rows if r["cut_in"]],
        "voice_to_voice_ms": summary(
            [r["voice_to_voice_ms"] for r in rows if r["voice_to_voice_ms"] is not None]
        ),
        "end_of_turn_delay_ms": summary([r["end_of_turn_delay_ms"] for r in known]),
        **{
            key: summary([r[key] for r in rows if r.get(key) is not None and not r["cut_in"]])
            for key in ("transcription_delay_ms", "llm_ttft_ms", "tts_ttfb_ms", "e2e_latency_ms")
        },
        "no_reply": [r["id"] for r in rows if r["voice_to_voice_ms"] is None and not r["cut_in"]],
        "split_uploads": [r["id"] for r in rows if r.get("uploads", 0) > r["parts"]],
    }


def _grouped(rows: list[dict], key: str) -> dict:
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r[key], []).append(r)
    return {name: summarise(part) for name, part in groups.items()}


async def run_variant(
    bundle: Bundle, double: ProviderDouble, delays: dict, max_delay: float, stride: int
) -> dict:
    """Every `stride`-th utterance of each language, in every voice of that language."""
    rows: list[dict] = []
    for language in ("en", "ar"):
        items = utterances(language)[::stride]
        for voice in voices_for(language):
            voice_rows = await call_over_set(bundle, double, voice, items, delays, max_delay)
            s = summarise(voice_rows)
            log(
                f"turns: {voice.name}: v2v {s['voice_to_voice_ms'].get('median')} ms, "
                f"held {s['held']}, cut in {s['cut_in']}"
            )
            rows.extend(voice_rows)
    for r in rows:
        r.pop("began_wall", None)
        r.pop("ended_wall", None)
    return {
        "stride": stride,
        "summary": summarise(rows),
        "per_language": _grouped(rows, "language"),
        "per_voice": _grouped(rows, "voice"),
        "per_kind": _grouped(rows, "kind"),
        "turns": rows,
    }


def variant_settings(name: str) -> dict:
    """The turn-taking settings a variant runs with (the defaults from app.settings)."""
    from app.settings import Settings

    fields = Settings.model_fields
    defaults = {
        "TURN_DETECTOR": fields["turn_detector"].default,
        "VAD_MIN_SILENCE": fields["vad_min_silence"].default,
        "ENDPOINTING_MIN_DELAY": fields["endpointing_min_delay"].default,
        "ENDPOINTING_MAX_DELAY": fields["endpointing_max_delay"].default,
    }
    return {**defaults, **VARIANTS[name]}


PLAN: tuple[tuple[str, str, int], ...] = (
    ("framework", "zero", 2),
    ("ours", "zero", 1),
    ("ours", "realistic", 2),
    ("ours-vad-0.15", "zero", 2),
)
"""(variant, profile, stride): the whole set for our defaults at zero delay; every second
utterance (every kind, both languages, every voice) for the rest: about 55 minutes here."""


def run_turn_taking(plan: tuple[tuple[str, str, int], ...] = PLAN, quick: bool = False) -> dict:
    out: dict = {"utterances": len(utterances()), "voices": {}, "variants": {}}
    for language in ("en", "ar"):
        out["voices"][language] = [v.name for v in voices_for(language)]
    with bench_double() as double:
        for name in dict.fromkeys(variant for variant, _, _ in plan):
            settings = variant_settings(name)
            env = {k: str(v) for k, v in settings.items()}
            max_delay = float(settings["ENDPOINTING_MAX_DELAY"])
            result: dict = out["variants"].setdefault(name, {"settings": settings})
            with running_bundle(double, env) as bundle:
                for variant, profile, stride in plan:
                    if variant != name:
                        continue
                    delays = ZERO if profile == "zero" else REALISTIC
                    log(f"turns: variant {name}, profile {profile}")
                    result[profile] = {
                        "delays": delays,
                        **asyncio.run(
                            run_variant(bundle, double, delays, max_delay, 4 if quick else stride)
                        ),
                    }
    return out


# -- the report ------------------------------------------------------------------------------


def _f(stats: dict | None) -> str:
    if not stats or not stats.get("n"):
        return "-"
    return f"{stats['median']:g} / {stats['p90']:g} ms (n={stats['n']})"


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f} %"


def render(result: dict, meta: str, number: str) -> tuple[list[tuple], list[str]]:
    """Summary rows and the figure's section for BENCHMARKS.md."""
    rows: list[tuple] = []
    variants = result["variants"]
    ours = variants.get("ours", {})
    for profile, target in (("zero", (450, 800)), ("realistic", (1250, None))):
        stats = ours.get(profile, {}).get("summary", {}).get("voice_to_voice_ms")
        if stats and stats.get("n"):
            ok = stats["median"] <= target[0] and (target[1] is None or stats["p90"] <= target[1])
            goal = f"P50 <= {target[0]:,}" + (f", P90 <= {target[1]}" if target[1] else "") + " ms"
            rows.append(
                (
                    number,
                    f"voice to voice over the utterance set, {profile} provider delays",
                    _f(stats),
                    goal,
                    "met" if ok else "**missed**",
                )
            )
    zero = ours.get("zero", {})
    for language, s in zero.get("per_language", {}).items():
        ok = (s["held_rate"] or 0) <= 0.05 and (s["cut_in_rate"] or 0) <= 0.05
        rows.append(
            (
                number,
                f"held / cut-in turns ({language})",
                f"{_pct(s['held_rate'])} / {_pct(s['cut_in_rate'])} (n={s['turns']})",
                "<= 5 % / <= 5 %",
                "met" if ok else "**missed**",
            )
        )
    voices = ", ".join(f"{lang}: {', '.join(names)}" for lang, names in result["voices"].items())
    details = [
        f"### {number}. Turn-taking over the utterance set",
        "",
        f"{result['utterances']} caller utterances in `bench/data/utterances.json` (statements, "
        "questions, names, numbers, phone numbers in groups, short answers, pauses inside the "
        f"turn), each spoken in every voice of its language ({voices}); one call per voice. "
        "Voice to voice: the caller's last speech sample -> the first loud frame of the reply "
        "(two sentences) at the caller. Held: the CRM's end_of_turn_delay reached the maximum "
        "endpointing delay. Cut in: the reply began before the caller's last part ended. "
        "Realistic: STT 300 ms, LLM first token 400 ms then 15 ms a word, TTS first byte 250 ms.",
        "",
        "| variant | settings | profile | utterances | voice to voice | end of turn delay | "
        "held | cut in | llm_ttft | tts_ttfb |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, variant in variants.items():
        settings = ", ".join(f"{k}={v}" for k, v in variant["settings"].items())
        for profile in ("zero", "realistic"):
            run = variant.get(profile)
            if not run:
                continue
            s = run["summary"]
            details.append(
                f"| {name} | {settings} | {profile} | every {run['stride']}, {s['turns']} turns | "
                f"{_f(s['voice_to_voice_ms'])} | {_f(s['end_of_turn_delay_ms'])} | "
                f"{_pct(s['held_rate'])} | {_pct(s['cut_in_rate'])} | {_f(s['llm_ttft_ms'])} | "
                f"{_f(s['tts_ttfb_ms'])} |"
            )
    details += [
        "",
        "Per voice and per language:",
        "",
        "| variant | profile | group | voice to voice | held | cut in | which held | "
        "which cut in |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, variant in variants.items():
        for profile in ("zero", "realistic"):
            run = variant.get(profile)
            if not run:
                continue
            groups = {**run["per_language"], **run["per_voice"]}
            for group, s in groups.items():
                details.append(
                    f"| {name} | {profile} | {group} | {_f(s['voice_to_voice_ms'])} | "
                    f"{_pct(s['held_rate'])} | {_pct(s['cut_in_rate'])} | "
                    f"{', '.join(s['held']) or '-'} | {', '.join(s['cut_in']) or '-'} |"
                )
    details += ["", f"- command: {meta}", ""]
    return rows, details
