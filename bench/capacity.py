"""Capacity: how many concurrent calls one worker carries on this machine.

One bundle; callers are added five at a time and kept; after each addition every caller takes
one turn (realistic provider delays), the turns spread at random over a few seconds as real
callers would. The ramp stops when the turn overhead's P90 passes 200 ms or a call fails
(no agent, no greeting, or no reply). The callers run in this benchmark's own process, apart
from the worker, on the same two cores: their CPU is reported next to the worker's.
"""

from __future__ import annotations

import asyncio
import random
import time

import psutil

from bench.calls import REALISTIC, TURN_SENTENCE, TURN_SPEED, answered, framework_constants
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

CALLER_RATE = 16_000
"""The benchmark's callers send and receive 16 kHz audio to keep their own CPU low."""
STEP = 5
OVERHEAD_P90_LIMIT_MS = 200.0
TURN_SPREAD_S = 4.0


async def one_turn(caller: BenchCaller, pcm, delay: float) -> float:
    await asyncio.sleep(delay)
    spoken = await caller.say_pcm(pcm)
    await caller.wait_for(
        lambda: caller.first_loud_after(spoken.ended) is not None, 20, "the agent's reply"
    )
    measured = (caller.first_loud_after(spoken.ended) - spoken.ended) * 1000
    await caller.wait_for_quiet(0.8, timeout=30)
    return measured


async def ramp(bundle: Bundle, double: ProviderDouble, max_calls: int) -> dict:
    consts = framework_constants()
    ideal = ideal_for(REALISTIC, consts, consts["endpointing_min_delay_s"])
    ideal_max = ideal_for(REALISTIC, consts, consts["endpointing_max_delay_s"])
    await double.areset()
    await double.adelays(**REALISTIC)
    await double.ascript([{"match": {"last_role": "user"}, "reply": {"text": "Yes, of course."}}])
    pcm = await speech_pcm(TURN_SENTENCE, "en", TURN_SPEED, rate=CALLER_RATE)
    callers: list[BenchCaller] = []
    steps = []
    me = psutil.Process()
    agent_pid = bundle.pid("agent")
    try:
        while len(callers) < max_calls:
            step: dict = {"calls": len(callers) + STEP}
            try:
                joined = await asyncio.gather(
                    *(answered(bundle, rate=CALLER_RATE, language="en") for _ in range(STEP))
                )
            except Exception as error:  # noqa: BLE001 - a failed call ends the ramp
                step["failed"] = f"a call was not answered: {error}"
                steps.append(step)
                break
            callers.extend(joined)
            await double.autterances([{"text": TURN_SENTENCE, "language": "en"}] * len(callers))
            cpu0, _ = tree_usage(agent_pid)
            me0 = sum(me.cpu_times()[:2])
            wall0 = time.monotonic()
            try:
                measured = await asyncio.gather(
                    *(one_turn(c, pcm, random.uniform(0, TURN_SPREAD_S)) for c in callers)
                )
            except Exception as error:  # noqa: BLE001
                step["failed"] = f"a turn got no reply: {error}"
                steps.append(step)
                break
            wall = time.monotonic() - wall0
            cpu1, mem = tree_usage(agent_pid)
            me1 = sum(me.cpu_times()[:2])
            overheads = [m - (ideal if m < ideal_max - 150 else ideal_max) for m in measured]
            n = len(callers)
            step.update(
                {
                    "overhead_ms": summary(overheads),
                    "measured_ms": summary(measured),
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
            if step["overhead_ms"]["p90"] > OVERHEAD_P90_LIMIT_MS:
                step["stopped"] = f"overhead P90 above {OVERHEAD_P90_LIMIT_MS:.0f} ms"
                break
    finally:
        await asyncio.gather(*(c.hang_up() for c in callers), return_exceptions=True)
    passing = [
        s["calls"]
        for s in steps
        if "failed" not in s and s.get("overhead_ms", {}).get("p90", 1e9) <= OVERHEAD_P90_LIMIT_MS
    ]
    return {
        "delays": REALISTIC,
        "ideal_ms": ideal,
        "criterion": f"turn overhead P90 <= {OVERHEAD_P90_LIMIT_MS:.0f} ms and no failed call",
        "capacity_calls": max(passing) if passing else 0,
        "steps": steps,
    }


def run_capacity(max_calls: int = 40) -> dict:
    env = {"AGENT_MAX_CONCURRENT_CALLS": str(max_calls + 10)}
    with bench_double() as double, running_bundle(double, extra_env=env) as bundle:
        return asyncio.run(ramp(bundle, double, max_calls))
