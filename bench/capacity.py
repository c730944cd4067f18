"""Capacity: how many concurrent calls one worker carries on this machine.

One bundle; callers are added (1, 5, 10, ... calls) and kept; after each addition every caller
takes one turn (realistic provider delays), spread at random over a few seconds as real callers
would. The ramp stops when the turn overhead's P90 is 200 ms above the one-call P90 of the same
run, or a call fails (no agent, no greeting, or no reply). The callers run in this benchmark's
own process, apart from the worker, on the same two cores: their CPU is reported next to the
worker's.
"""

from __future__ import annotations

import asyncio
import random
import time

import httpx
import psutil

from bench.calls import (
    REALISTIC,
    TURN_SENTENCE,
    TURN_SPEED,
    answered,
    applied_endpointing,
    framework_constants,
)
from bench.calls import ideal_ms as ideal_for
from bench.common import (
    BenchCaller,
    bench_double,
    log,
    running_bundle,
    speech_pcm,
    summary,
    tree_usage,
)
from tests.e2e.bundle import Bundle
from tests.provider_double.client import ProviderDouble

STEP = 5
UTTERANCES_PER_TURN = 3
ADDED_P90_LIMIT_MS = 200.0
"""The ramp stops when the overhead's P90 is this much above the one-call P90 of the same run
(a single call's overhead P90 is already above 200 ms on this machine, see the turn figure)."""
TURN_SPREAD_S = 4.0


async def one_turn(bundle: Bundle, caller: BenchCaller, pcm, delay: float) -> tuple:
    """(measured ms, the framework's end_of_turn_delay for this turn or None)"""
    await asyncio.sleep(delay)
    spoken = await caller.say_pcm(pcm)
    await caller.wait_for(
        lambda: caller.first_loud_after(spoken.ended) is not None, 20, "the agent's reply"
    )
    measured = (caller.first_loud_after(spoken.ended) - spoken.ended) * 1000
    await caller.wait_for_quiet(0.8, timeout=30)
    return measured, await last_end_of_turn_delay(bundle, caller.call["call_id"])


async def last_end_of_turn_delay(bundle: Bundle, call_id: int) -> float | None:
    """The call's turns are in the CRM as they happen: the last caller turn's delay."""
    headers = {"X-API-Key": bundle.operator_key}
    async with httpx.AsyncClient(base_url=bundle.api_url, headers=headers, timeout=10) as client:
        call = (await client.get(f"/api/calls/{call_id}")).json()
    turns = [t for t in call.get("transcript", []) if t["role"] == "caller"]
    return turns[-1]["end_of_turn_delay"] if turns else None


async def what_the_agent_did(bundle: Bundle, double: ProviderDouble, callers: list) -> list:
    """For a failed step: each call's turns in the CRM (the greeting, interrupted or not), its
    events, what its caller heard (frames, loud frames), and the double's TTS request count."""
    seen = await what_the_agent_did_in(bundle, callers)
    log_ = await double.alog()
    return [*seen, {"tts_requests": len(log_["speech"])}]


async def what_the_agent_did_in(bundle: Bundle, callers: list) -> list:
    """Each call's turns and events in the CRM, and what its caller heard."""
    headers = {"X-API-Key": bundle.operator_key}
    seen = []
    async with httpx.AsyncClient(base_url=bundle.api_url, headers=headers, timeout=10) as client:
        for caller in callers:
            call = (await client.get(f"/api/calls/{caller.call['call_id']}")).json()
            seen.append(
                {
                    "call_id": call.get("id"),
                    "status": call.get("status"),
                    "turns": [
                        (t["role"], t["text"][:30], "interrupted" if t["interrupted"] else "")
                        for t in call.get("transcript", [])
                    ],
                    "heard": (caller.heard.frames, caller.heard.loud_frames),
                    "events": [e["kind"] for e in call.get("events", [])],
                }
            )
    return seen


async def ramp(bundle: Bundle, double: ProviderDouble, max_calls: int) -> dict:
    consts = framework_constants()
    ideal = ideal_for(REALISTIC, consts, consts["endpointing_min_delay_s"])
    await double.areset()
    await double.adelays(**REALISTIC)
    await double.ascript([{"match": {"last_role": "user"}, "reply": {"text": "Yes, of course."}}])
    pcm = await speech_pcm(TURN_SENTENCE, "en", TURN_SPEED)
    callers: list[BenchCaller] = []
    steps = []
    me = psutil.Process()
    agent_pid = bundle.pid("agent")
    try:
        baseline_p90: float | None = None
        for size in [1, *range(STEP, max_calls + 1, STEP)]:
            step: dict = {"calls": size}
            new = [BenchCaller(bundle.api_url) for _ in range(size - len(callers))]
            callers.extend(new)
            try:
                await asyncio.gather(*(answered(bundle, caller=c, language="en") for c in new))
            except Exception as error:  # noqa: BLE001 - a failed call ends the ramp
                heard = [(c.heard.frames, c.heard.loud_frames, len(c._readers)) for c in new]
                step["failed"] = (
                    f"a call was not answered: {error} (per new caller: frames received, "
                    f"loud frames, audio tracks subscribed: {heard})"
                )
                step["agent_side"] = await what_the_agent_did(bundle, double, new)
                steps.append(step)
                break
            # The double hands one utterance to each upload, from one queue for all calls. Under
            # load the VAD can cut a sentence in two (two uploads), which took another call's
            # utterance and left that call an empty transcript and no reply: spares for that.
            spares = UTTERANCES_PER_TURN * len(callers)
            await double.autterances([{"text": TURN_SENTENCE, "language": "en"}] * spares)
            cpu0, _ = tree_usage(agent_pid)
            me0 = sum(me.cpu_times()[:2])
            wall0 = time.monotonic()
            try:
                results = await asyncio.gather(
                    *(one_turn(bundle, c, pcm, random.uniform(0, TURN_SPREAD_S)) for c in callers)
                )
            except Exception as error:  # noqa: BLE001
                step["failed"] = f"a turn got no reply: {error}"
                step["agent_side"] = await what_the_agent_did(bundle, double, callers)
                steps.append(step)
                break
            wall = time.monotonic() - wall0
            cpu1, mem = tree_usage(agent_pid)
            me1 = sum(me.cpu_times()[:2])
            measured = [m for m, _ in results]
            overheads = [
                m - ideal_for(REALISTIC, consts, applied_endpointing(consts, eot))
                for m, eot in results
            ]
            n = len(callers)
            step.update(
                {
                    "overhead_ms": summary(overheads),
                    "measured_ms": summary(measured),
                    "turns_at_max_endpointing": sum(
                        1
                        for _, eot in results
                        if applied_endpointing(consts, eot) == consts["endpointing_max_delay_s"]
                    ),
                    "worker_cpu_cores": round((cpu1 - cpu0) / wall, 2),
                    "worker_cpu_per_call_pct": round((cpu1 - cpu0) / wall / n * 100, 1),
                    "worker_memory_mib": round(mem / 2**20),
                    "worker_memory_per_call_mib": round(mem / 2**20 / n, 1),
                    "callers_cpu_cores": round((me1 - me0) / wall, 2),
                    "load_average": [round(x, 2) for x in psutil.getloadavg()],
                }
            )
            steps.append(step)
            log(
                f"capacity: {n} calls: overhead P50 {step['overhead_ms']['median']} "
                f"P90 {step['overhead_ms']['p90']} ms, worker {step['worker_cpu_cores']} cores, "
                f"{step['worker_memory_mib']} MiB"
            )
            if baseline_p90 is None:
                baseline_p90 = step["overhead_ms"]["p90"]
            step["added_p90_ms"] = round(step["overhead_ms"]["p90"] - baseline_p90, 1)
            if step["added_p90_ms"] > ADDED_P90_LIMIT_MS:
                step["stopped"] = f"overhead P90 {ADDED_P90_LIMIT_MS:.0f} ms above one call's"
                break
    finally:
        await asyncio.gather(*(c.hang_up() for c in callers), return_exceptions=True)
    passing = [
        s["calls"]
        for s in steps
        if "failed" not in s and s.get("added_p90_ms", 1e9) <= ADDED_P90_LIMIT_MS
    ]
    return {
        "delays": REALISTIC,
        "ideal_ms": ideal,
        "criterion": (
            f"turn overhead P90 at most {ADDED_P90_LIMIT_MS:.0f} ms above the one-call P90 of "
            "the same run, and no failed call (no agent, no greeting or no reply)"
        ),
        "capacity_calls": max(passing) if passing else 0,
        "steps": steps,
    }


def run_capacity(max_calls: int = 40) -> dict:
    env = {"AGENT_MAX_CONCURRENT_CALLS": str(max_calls + 10)}
    with bench_double() as double, running_bundle(double, extra_env=env) as bundle:
        return asyncio.run(ramp(bundle, double, max_calls))


# -- a burst: many callers at once on one worker ---------------------------------------------

BURST_AGENT_TIMEOUT_S = 20.0
BURST_GREETING_TIMEOUT_S = 30.0
LOG_LINES_PER_CALL = 12


async def burst_caller(bundle: Bundle, caller: BenchCaller, pcm) -> dict:
    """One caller of a burst: refused up front (503), or joined; then the agent, the greeting
    and one turn, each with its time or what it waited for in vain."""
    row: dict = {}
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=15) as client:
        response = await client.post(f"{bundle.api_url}/api/calls", json={"language": "en"})
    row["start_ms"] = round((time.monotonic() - started) * 1000, 1)
    if response.status_code != 201:
        row["outcome"] = f"refused_{response.status_code}"
        row["error"] = response.json().get("error")
        row["retry_after"] = response.headers.get("Retry-After")
        return row
    call = response.json()
    row.update(call_id=call["call_id"], room=call["room"])
    await caller.join_call(call)
    caller._mic_task = asyncio.create_task(caller._microphone())
    try:
        row["agent_joined_s"] = round(await caller.wait_for_agent(BURST_AGENT_TIMEOUT_S), 2)
    except TimeoutError:
        row["outcome"] = "no_agent"
        return row
    try:
        await caller.wait_for_speech(since=caller.joined_at, timeout=BURST_GREETING_TIMEOUT_S)
    except TimeoutError:
        row["outcome"] = "no_greeting"
        row["heard"] = (caller.heard.frames, caller.heard.loud_frames, len(caller._readers))
        row["agent_side"] = (await what_the_agent_did_in(bundle, [caller]))[0]
        return row
    row["greeting_s"] = round(caller.heard.first_loud_at - caller.joined_at, 2)
    await caller.wait_for_quiet(0.8, timeout=30)
    try:
        measured, _ = await one_turn(bundle, caller, pcm, random.uniform(0, TURN_SPREAD_S))
        row["turn_ms"] = round(measured)
        row["outcome"] = "served"
    except TimeoutError as error:
        row["outcome"] = "greeted_no_reply"
        row["error"] = str(error)
        row["agent_side"] = (await what_the_agent_did_in(bundle, [caller]))[0]
    return row


def log_lines_about(bundle: Bundle, rooms: list[str]) -> dict[str, dict[str, list[str]]]:
    """The worker's and LiveKit's log lines naming each room (the evidence of a failed call)."""
    found: dict[str, dict[str, list[str]]] = {}
    for program in ("agent", "livekit"):
        lines = bundle.log(program).splitlines()
        for room in rooms:
            hits = [line[:400] for line in lines if room in line]
            found.setdefault(room, {})[program] = hits[:LOG_LINES_PER_CALL]
    return found


def worker_log_summary(bundle: Bundle) -> dict[str, int]:
    """Counts of the worker log lines that tell how the framework treated the burst."""
    text = bundle.log("agent")
    return {
        phrase: text.count(phrase)
        for phrase in (
            "received job request",
            "no warmed process available",
            "timed out",
            "worker is at full capacity",
            "refusing a call",
            "event loop blocked",
            "slower than realtime",
        )
    }


async def burst(bundle: Bundle, double: ProviderDouble, callers: int) -> dict:
    await double.areset()
    await double.adelays(**REALISTIC)
    await double.ascript([{"match": {"last_role": "user"}, "reply": {"text": "Yes, of course."}}])
    await double.autterances([{"text": TURN_SENTENCE, "language": "en"}] * callers * 3)
    pcm = await speech_pcm(TURN_SENTENCE, "en", TURN_SPEED)
    status = httpx.get(f"{bundle.env['AGENT_HEALTH_URL']}/worker", timeout=5).json()
    people = [BenchCaller(bundle.api_url) for _ in range(callers)]
    agent_pid = bundle.pid("agent")
    cpu0, _ = tree_usage(agent_pid)
    wall0 = time.monotonic()
    try:
        rows = await asyncio.gather(*(burst_caller(bundle, c, pcm) for c in people))
    finally:
        wall = time.monotonic() - wall0
        cpu1, mem = tree_usage(agent_pid)
        await asyncio.gather(*(c.hang_up() for c in people), return_exceptions=True)
    for index, row in enumerate(rows):
        row["caller"] = index
    failed = [r for r in rows if r["outcome"] in ("no_agent", "no_greeting")]
    outcomes: dict[str, int] = {}
    for row in rows:
        outcomes[row["outcome"]] = outcomes.get(row["outcome"], 0) + 1
    return {
        "callers": callers,
        "worker_before": status,
        "outcomes": outcomes,
        "callers_without_greeting": len(failed),
        "agent_joined_s": summary([r["agent_joined_s"] for r in rows if "agent_joined_s" in r]),
        "greeting_s": summary([r["greeting_s"] for r in rows if "greeting_s" in r]),
        "turn_ms": summary([r["turn_ms"] for r in rows if "turn_ms" in r]),
        "worker_cpu_cores": round((cpu1 - cpu0) / wall, 2),
        "worker_memory_mib": round(mem / 2**20),
        "load_average": [round(x, 2) for x in psutil.getloadavg()],
        "worker_log": worker_log_summary(bundle),
        "per_caller": rows,
        "failed_calls_in_logs": log_lines_about(bundle, [r["room"] for r in failed]),
    }


def run_burst(callers: int = 10, max_calls: int | None = None, runs: int = 1) -> dict:
    """`callers` callers start a call at the same moment on one worker; `max_calls` sets the
    worker's AGENT_MAX_CONCURRENT_CALLS (None: the default for this machine's cores)."""
    from app.settings import default_max_calls

    env = {"AGENT_MAX_CONCURRENT_CALLS": str(max_calls or default_max_calls())}
    results = []
    for _ in range(runs):
        with bench_double() as double, running_bundle(double, extra_env=env) as bundle:
            results.append(asyncio.run(burst(bundle, double, callers)))
            log(
                f"burst: {callers} callers at once: {results[-1]['outcomes']}, "
                f"{results[-1]['callers_without_greeting']} without a greeting"
            )
    return {
        "callers": callers,
        "max_calls": env["AGENT_MAX_CONCURRENT_CALLS"],
        "callers_without_greeting": [r["callers_without_greeting"] for r in results],
        "runs": results,
    }
