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
    log_ = await double.alog()
    return [*seen, {"tts_requests": len(log_["speech"])}]


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
