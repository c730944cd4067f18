"""The cost of a CRM write from a worker: in-process (`LocalCallCrm` on a CRM file) against
remote (`RemoteCallCrm` -> a real API process's `POST /internal/crm`).

Per run, both back to back (their order alternates from run to run), each on a fresh CRM file
and a fresh call, after a warm-up: awaited writes one after another (`await crm.run(add_turn)`,
the latency of each), then queued writes (`submit` N add_turn, then `flush`: writes per second),
and the CPU this process (the worker's) spent on each, per 1000 writes (`time.process_time`:
all its threads, the call's CRM thread included). The API's own CPU for the remote writes is
reported beside it. The API is `python -m app` from tests/api/conftest.py's `running_api`.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from agent.crm import LocalCallCrm, RemoteCallCrm
from app.crm import calls as crm_calls
from bench.common import log, summary, tree_usage
from tests.api.conftest import RunningApi, running_api

WARMUP_AWAITED = 200
WARMUP_QUEUED = 500
TEXT = "How much does it cost to print two hundred business cards?"


async def _awaited(crm, call_id: int, writes: int) -> tuple[list[float], float]:
    """(latency of each write in ms, this process's CPU seconds for all of them)"""
    latencies = []
    cpu0 = time.process_time()
    for n in range(writes):
        started = time.perf_counter()
        await crm.run(crm_calls.add_turn, call_id=call_id, role="caller", text=f"{TEXT} {n}")
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies, time.process_time() - cpu0


async def _queued(crm, call_id: int, writes: int) -> tuple[float, float]:
    """(wall seconds from the first submit to the end of the flush, this process's CPU s)"""
    cpu0, started = time.process_time(), time.perf_counter()
    for n in range(writes):
        crm.submit(crm_calls.add_turn, call_id=call_id, role="agent", text=f"{TEXT} {n}")
    await crm.flush()
    return time.perf_counter() - started, time.process_time() - cpu0


def count_turns(db, *, call_id: int) -> int:
    return db.execute(
        "SELECT count(*) FROM transcript_turns WHERE call_id = ?", [call_id]
    ).fetchone()[0]


async def _measure(crm, call_id: int, awaited: int, queued: int, api: RunningApi | None) -> dict:
    api_pid = api.process.pid if api else None
    await _awaited(crm, call_id, WARMUP_AWAITED)
    await _queued(crm, call_id, WARMUP_QUEUED)
    api_cpu0 = tree_usage(api_pid)[0] if api_pid else 0.0
    latencies, awaited_cpu = await _awaited(crm, call_id, awaited)
    api_cpu1 = tree_usage(api_pid)[0] if api_pid else 0.0
    wall, queued_cpu = await _queued(crm, call_id, queued)
    api_cpu2 = tree_usage(api_pid)[0] if api_pid else 0.0
    if api is None:
        written = await crm.run(count_turns, call_id=call_id)
    else:  # a store function that is not a worker operation: read the API's file directly
        db = api.db()
        try:
            written = count_turns(db, call_id=call_id)
        finally:
            db.conn.close()
    result = {
        "awaited_ms": summary(latencies, 2),
        "queued_writes_per_s": round(queued / wall),
        "cpu_s_per_1000_awaited": round(awaited_cpu / awaited * 1000, 3),
        "cpu_s_per_1000_queued": round(queued_cpu / queued * 1000, 3),
        "turns_written": written,
        "turns_expected": WARMUP_AWAITED + WARMUP_QUEUED + awaited + queued,
    }
    if api_pid:
        result["api_cpu_s_per_1000_awaited"] = round((api_cpu1 - api_cpu0) / awaited * 1000, 3)
        result["api_cpu_s_per_1000_queued"] = round((api_cpu2 - api_cpu1) / queued * 1000, 3)
    return result


async def in_process(awaited: int, queued: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="ornina-bench-crm-") as tmp:
        crm = await LocalCallCrm.open(Path(tmp) / "crm.sqlite3")
        try:
            call = await crm.run(
                crm_calls.create_call, room="bench-crm-write", language="en", department="sales"
            )
            return await _measure(crm, call["id"], awaited, queued, None)
        finally:
            await crm.aclose()


async def remote(api: RunningApi, awaited: int, queued: int) -> dict:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as client:
        response = await client.post("/api/calls", json={})
        response.raise_for_status()
        call_id = response.json()["call_id"]
    crm = RemoteCallCrm(api.base_url, api.service_key)
    try:
        return await _measure(crm, call_id, awaited, queued, api)
    finally:
        await crm.aclose()


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def run_crm_write(runs: int = 5, awaited: int = 500, queued: int = 2000) -> dict:
    samples = []
    for index in range(runs):
        sample: dict = {}
        order = ("local", "remote") if index % 2 == 0 else ("remote", "local")
        for where in order:
            if where == "local":
                sample["local"] = asyncio.run(in_process(awaited, queued))
            else:
                with running_api() as api:
                    sample["remote"] = asyncio.run(remote(api, awaited, queued))
        sample["order"] = list(order)
        sample["load_average"] = [round(x, 2) for x in psutil.getloadavg()]
        samples.append(sample)
        log(
            "crm-write: awaited P50 {:.2f} / {:.2f} ms, queued {} / {} writes/s "
            "(in-process / remote)".format(
                sample["local"]["awaited_ms"]["median"],
                sample["remote"]["awaited_ms"]["median"],
                sample["local"]["queued_writes_per_s"],
                sample["remote"]["queued_writes_per_s"],
            )
        )

    def per_run(where: str, key: str, sub: str | None = None) -> list[float]:
        return [s[where][key][sub] if sub else s[where][key] for s in samples]

    metrics = {
        "awaited_median_ms": ("awaited_ms", "median"),
        "awaited_p90_ms": ("awaited_ms", "p90"),
        "queued_writes_per_s": ("queued_writes_per_s", None),
        "cpu_s_per_1000_awaited": ("cpu_s_per_1000_awaited", None),
        "cpu_s_per_1000_queued": ("cpu_s_per_1000_queued", None),
    }
    medians: dict = {"local": {}, "remote": {}}
    ratios: dict = {}
    for name, (key, sub) in metrics.items():
        for where in ("local", "remote"):
            medians[where][name] = {
                "median": _median(per_run(where, key, sub)),
                "runs": per_run(where, key, sub),
            }
        ratios[name] = _ratio(
            [
                r / loc
                for r, loc in zip(
                    per_run("remote", key, sub), per_run("local", key, sub), strict=True
                )
            ]
        )
    for key in ("api_cpu_s_per_1000_awaited", "api_cpu_s_per_1000_queued"):
        medians["remote"][key] = {
            "median": _median(per_run("remote", key)),
            "runs": per_run("remote", key),
        }
    return {
        "runs": runs,
        "writes": {
            "awaited": awaited,
            "queued": queued,
            "warmup_awaited": WARMUP_AWAITED,
            "warmup_queued": WARMUP_QUEUED,
        },
        "medians": medians,
        "ratios_remote_to_local": ratios,
        "samples": samples,
    }


def render(result: dict, meta: str, number: str) -> tuple[list[tuple], list[str]]:
    """Summary rows and the section of BENCHMARKS.md."""
    local, remote_, ratios = (
        result["medians"]["local"],
        result["medians"]["remote"],
        result["ratios_remote_to_local"],
    )
    rows = [
        (
            number,
            "CRM write from a worker, remote / in-process: awaited write P50",
            f"{ratios['awaited_median_ms']:g} ({local['awaited_median_ms']['median']:g} -> "
            f"{remote_['awaited_median_ms']['median']:g} ms)",
            "-",
            "-",
        ),
        (
            number,
            "CRM write from a worker, remote / in-process: worker CPU per queued write",
            f"{ratios['cpu_s_per_1000_queued']:g}",
            "-",
            "-",
        ),
    ]
    labels = (
        ("awaited_median_ms", "awaited write (`await crm.run(add_turn)`), median", "ms"),
        ("awaited_p90_ms", "awaited write, P90", "ms"),
        ("queued_writes_per_s", "queued writes (`submit` then `flush`)", "writes/s"),
        ("cpu_s_per_1000_awaited", "worker CPU per 1000 awaited writes", "s"),
        ("cpu_s_per_1000_queued", "worker CPU per 1000 queued writes", "s"),
    )
    w = result["writes"]
    details = [
        f"### {number}. A CRM write from a worker: in-process or through the API",
        "",
        "`LocalCallCrm` (the CRM file, one thread per call) against `RemoteCallCrm` (HTTP to a "
        "real API process's `POST /internal/crm`, queued writes sent in batches of up to "
        f"100), back to back in each of {result['runs']} run(s), each on a fresh CRM file and "
        f"call after a warm-up ({w['warmup_awaited']} awaited and {w['warmup_queued']} queued "
        f"writes). {w['awaited']} awaited `add_turn` one after another, then {w['queued']} "
        "queued ones and a flush. Worker CPU is the benchmark process's (`time.process_time`, "
        "all its threads). Medians of the per-run figures (per run in brackets); the ratio is "
        "the median of the per-run ratios.",
        "",
        "| | in-process | remote (API) | remote / in-process |",
        "|---|---|---|---|",
    ]
    for key, label, unit in labels:
        details.append(
            f"| {label} | {_cell(local[key], unit)} | {_cell(remote_[key], unit)} "
            f"| {ratios[key]:g} |"
        )
    for key, label in (
        ("api_cpu_s_per_1000_awaited", "API process CPU per 1000 awaited writes"),
        ("api_cpu_s_per_1000_queued", "API process CPU per 1000 queued writes"),
    ):
        details.append(f"| {label} | - | {_cell(remote_[key], 's')} | - |")
    details += ["", f"- command: {meta}", ""]
    return rows, details


def _cell(stats: dict, unit: str) -> str:
    return f"{stats['median']:g} {unit} ({', '.join(f'{v:g}' for v in stats['runs'])})"


def _ratio(values: list[float]) -> float:
    return round(statistics.median(values), 2)
