"""Scaling out: calls answered by one worker against two, at the same per-worker limit.

The shape of README "Deployment shapes" on loopback (tests/cluster/): a LiveKit cluster of two
nodes sharing a Redis, a core container (API and CRM file, no worker of its own) on node 1, and
one worker-only container (on node 1) or two (worker-a on node 1, worker-b on node 2), each with
AGENT_MAX_CONCURRENT_CALLS=`PER_WORKER` and reaching the CRM through the core's API; and, to
tell LiveKit's dispatch across nodes from the workers, two workers both on node 1. Then a burst
of callers at once, as in `capacity.burst` (each caller: `POST /api/calls`, refused with 503 or
joined; the agent, the greeting, one turn), the callers joining through the two nodes in turn.
The API's worker gate adds up the free slots the workers report, so it should admit
`PER_WORKER` callers per worker and refuse the others before any token.

Every configuration of every run gets a fresh cluster, core and workers; their order rotates
from run to run; the provider double (cached synthesis, realistic delays) is shared by the
configurations of a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import statistics
import time

import httpx
import psutil

from bench.calls import REALISTIC, TURN_SENTENCE, TURN_SPEED
from bench.capacity import burst_caller
from bench.common import RESULTS, BenchCaller, bench_double, log, speech_pcm, summary, tree_usage
from tests.cluster.livekit_cluster import Cluster, livekit_cluster
from tests.cluster.shapes import running_core, running_worker, service_key
from tests.e2e.bundle import Bundle
from tests.provider_double.client import ProviderDouble
from tests.support import wait_until

PER_WORKER = 2
CALLERS = 6
WORKER_NAMES = ("worker-a", "worker-b")
LOG_LINES_PER_CALL = 12
WORKER_LOG_PHRASES = (
    "received job request",
    "no warmed process available",
    "worker is at full capacity",
    "refusing a call",
    "event loop blocked",
    "slower than realtime",
)


class NodeCaller(BenchCaller):
    """A burst caller who joins through a given LiveKit node (the API names node 1)."""

    def __init__(self, api_url: str, node_url: str) -> None:
        super().__init__(api_url)
        self.node_url = node_url

    async def join_call(self, call: dict) -> None:
        await super().join_call({**call, "livekit_url": self.node_url})


def reported_workers(core: Bundle) -> list[dict]:
    return core.api("GET", "/api/workers", operator=True).json()["workers"]


def wait_for_workers(core: Bundle, count: int) -> list[dict]:
    """Until the API counts `count` registered, idle workers (their reports come every 2 s)."""

    def ready() -> list[dict] | None:
        workers = reported_workers(core)
        idle = [w for w in workers if w["registered"] and not w["draining"] and w["calls"] == 0]
        return workers if len(idle) == count else None

    return wait_until(ready, timeout=60, interval=0.5, what=f"{count} idle workers reporting")


async def burst_through(
    core: Bundle,
    cluster: Cluster,
    workers: list[Bundle],
    double: ProviderDouble,
    callers: int,
) -> dict:
    await double.areset()
    await double.adelays(**REALISTIC)
    await double.ascript([{"match": {"last_role": "user"}, "reply": {"text": "Yes, of course."}}])
    await double.autterances([{"text": TURN_SENTENCE, "language": "en"}] * callers * 3)
    pcm = await speech_pcm(TURN_SENTENCE, "en", TURN_SPEED)
    before = reported_workers(core)
    people = [NodeCaller(core.api_url, cluster.nodes[i % 2].url) for i in range(callers)]
    pids = [w.pid("agent") for w in workers]
    cpu0 = sum(tree_usage(pid)[0] for pid in pids)
    wall0 = time.monotonic()
    try:
        rows = await asyncio.gather(*(burst_caller(core, c, pcm) for c in people))
    finally:
        wall = time.monotonic() - wall0
        usage = [tree_usage(pid) for pid in pids]
        await asyncio.gather(*(c.hang_up() for c in people), return_exceptions=True)
    async with httpx.AsyncClient(
        base_url=core.api_url, headers={"X-API-Key": core.operator_key}, timeout=10
    ) as client:
        for index, row in enumerate(rows):
            row["caller"] = index
            row["node"] = 1 + index % 2
            if "call_id" in row:
                record = (await client.get(f"/api/calls/{row['call_id']}")).json()
                row["worker"] = record.get("worker")
    outcomes: dict[str, int] = {}
    for row in rows:
        outcomes[row["outcome"]] = outcomes.get(row["outcome"], 0) + 1
    served_by: dict[str, int] = {}
    for row in rows:
        if row["outcome"] == "served":
            served_by[str(row.get("worker"))] = served_by.get(str(row.get("worker")), 0) + 1
    failed = [r for r in rows if r["outcome"] in ("no_agent", "no_greeting")]
    return {
        "workers": len(workers),
        "callers": callers,
        "served": outcomes.get("served", 0),
        "refused_503": outcomes.get("refused_503", 0),
        "without_greeting": len(failed),
        "greeted_no_reply": outcomes.get("greeted_no_reply", 0),
        "outcomes": outcomes,
        "served_by_worker": served_by,
        "workers_before": before,
        "agent_joined_s": summary([r["agent_joined_s"] for r in rows if "agent_joined_s" in r]),
        "greeting_s": summary([r["greeting_s"] for r in rows if "greeting_s" in r]),
        "turn_ms": summary([r["turn_ms"] for r in rows if "turn_ms" in r]),
        "workers_cpu_cores": round((sum(u[0] for u in usage) - cpu0) / wall, 2),
        "workers_memory_mib": round(sum(u[1] for u in usage) / 2**20),
        "load_average": [round(x, 2) for x in psutil.getloadavg()],
        "worker_log": {
            phrase: sum(w.log("agent").count(phrase) for w in workers)
            for phrase in WORKER_LOG_PHRASES
        },
        "per_caller": rows,
        "failed_calls_in_logs": _log_lines_about(cluster, workers, [r["room"] for r in failed]),
    }


def _log_lines_about(cluster: Cluster, workers: list[Bundle], rooms: list[str]) -> dict:
    """The workers' and LiveKit nodes' log lines naming each room of a failed call."""
    sources = {f"worker-{i + 1}": w.log("agent") for i, w in enumerate(workers)}
    sources |= {f"node{n.index}": n.log() for n in cluster.nodes}
    return {
        room: {
            name: [line[:400] for line in text.splitlines() if room in line][:LOG_LINES_PER_CALL]
            for name, text in sources.items()
        }
        for room in rooms
    }


def _keep_logs(prefix: str, bundle: Bundle) -> None:
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for path in (bundle.root / "logs").glob("*.log"):
        shutil.copy(path, logs / f"{prefix}-{path.name}")


def one_configuration(
    double: ProviderDouble, count: int, callers: int, *, same_node: bool = False
) -> dict:
    """A fresh cluster, core and `count` workers (one on each node, or all on node 1 with
    `same_node`); one burst of `callers`."""
    agent_name = f"ornina-bench-{secrets.token_hex(3)}"
    key = service_key()
    with (
        livekit_cluster(nodes=2, name="bench-workers") as cluster,
        contextlib.ExitStack() as stack,
    ):
        core = stack.enter_context(
            running_core(
                double.base_url,
                livekit_url=cluster.node(1).url,
                agent_name=agent_name,
                key=key,
            )
        )
        nodes = [cluster.node(1) if same_node else node for node in cluster.nodes]
        workers = [
            stack.enter_context(
                running_worker(
                    double.base_url,
                    name=name,
                    livekit_url=node.url,
                    core=core,
                    agent_name=agent_name,
                    key=key,
                    max_calls=PER_WORKER,
                )
            )
            for name, node in zip(WORKER_NAMES[:count], nodes[:count], strict=True)
        ]
        wait_for_workers(core, count)
        try:
            return asyncio.run(burst_through(core, cluster, workers, double, callers))
        finally:
            _keep_logs("workers-core", core)
            for name, worker in zip(WORKER_NAMES, workers, strict=False):
                _keep_logs(f"workers-{name}", worker)


CONFIGURATIONS = {
    "1": (1, False),
    "2": (2, False),
    "2-one-node": (2, True),
}
"""name: (workers, all on node 1). "2" is the shape of README "Deployment shapes" (each worker
on its own node); "2-one-node" puts both on node 1, to tell LiveKit's dispatch across nodes
from the workers themselves."""
LABELS = {
    "1": "1 (node 1)",
    "2": "2 (one on each node)",
    "2-one-node": "2 (both on node 1)",
}
KEYS = ("served", "refused_503", "without_greeting", "greeted_no_reply")


def run_workers(callers: int = CALLERS, runs: int = 3) -> dict:
    samples = []
    names = list(CONFIGURATIONS)
    for index in range(runs):
        order = names[index % len(names) :] + names[: index % len(names)]
        sample: dict = {"order": order}
        with bench_double() as double:
            for name in order:
                count, same_node = CONFIGURATIONS[name]
                result = one_configuration(double, count, callers, same_node=same_node)
                sample[name] = result
                log(
                    f"workers: {LABELS[name]}, {callers} callers at once: served "
                    f"{result['served']}, refused {result['refused_503']}, without a greeting "
                    f"{result['without_greeting']} ({result['outcomes']}; served by "
                    f"{result['served_by_worker']})"
                )
        one = sample["1"]["served"]
        sample["ratio_served"] = {
            name: round(sample[name]["served"] / one, 2) if one else None
            for name in names
            if name != "1"
        }
        samples.append(sample)

    def ratio(name: str) -> dict:
        values = [s["ratio_served"][name] for s in samples]
        known = [v for v in values if v is not None]
        return {"median": round(statistics.median(known), 2) if known else None, "runs": values}

    return {
        "callers": callers,
        "per_worker": PER_WORKER,
        "delays": REALISTIC,
        "runs": runs,
        "configurations": {name: LABELS[name] for name in names},
        **{key: {name: [s[name][key] for s in samples] for name in names} for key in KEYS},
        "ratio_served": {name: ratio(name) for name in names if name != "1"},
        "samples": samples,
    }


def render(result: dict, meta: str, number: str) -> tuple[list[tuple], list[str]]:
    """Summary rows and the section of BENCHMARKS.md."""
    per, callers, runs = result["per_worker"], result["callers"], result["runs"]
    rows = []
    for name, where in (("2", "one on each LiveKit node"), ("2-one-node", "both on one node")):
        ratio = result["ratio_served"][name]
        every_slot = (
            result["served"]["1"] == [per] * runs and result["served"][name] == [2 * per] * runs
        )
        rows.append(
            (
                number,
                f"{callers} callers at once: calls served by two workers ({where}) / one "
                f"({per} calls each)",
                f"{ratio['median']:g} (per run: {', '.join(str(r) for r in ratio['runs'])})"
                if ratio["median"] is not None
                else "-",
                "2, every slot served",
                "met" if every_slot else "**missed**",
            )
        )
    details = [
        f"### {number}. Workers: two against one",
        "",
        "A LiveKit cluster of two nodes (one Redis), a core container (API and CRM, no worker) "
        "and worker-only containers, each with "
        f"AGENT_MAX_CONCURRENT_CALLS={per} and the CRM through the API: one worker on node 1, "
        'two workers one on each node (README, "Deployment shapes"), or two on node 1. '
        f"{callers} callers start a call at the same moment (`POST /api/calls` to the core, "
        "then each joins through node 1 or 2 in turn) and take one turn (STT 300 ms, LLM first "
        "token 400 ms, TTS first byte 250 ms). Served: greeted and answered. Refused: a 503 "
        "from the API's worker gate before any token. Without a greeting: a token, then no "
        "agent within 20 s or no greeting within 30 s. A fresh cluster and containers for "
        "each configuration of each run; the order rotates from run to run.",
        "",
        "| workers | served (per run) | refused 503 | without a greeting | greeted, no reply "
        "| agent joined | greeting heard | turn (caller's end of speech -> reply) "
        "| workers' CPU (cores) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, label in result["configurations"].items():
        samples = [s[name] for s in result["samples"]]
        details.append(
            f"| {label} | "
            + " | ".join(", ".join(map(str, result[key][name])) for key in KEYS)
            + " | "
            + " | ".join(
                "; ".join(_fmt_s(r[key], unit) for r in samples)
                for key, unit in (("agent_joined_s", "s"), ("greeting_s", "s"), ("turn_ms", "ms"))
            )
            + " | "
            + "; ".join(str(r["workers_cpu_cores"]) for r in samples)
            + " |"
        )
    details.append("")
    for name in ("2", "2-one-node"):
        served_by = [s[name]["served_by_worker"] for s in result["samples"]]
        details += [
            f"- {result['configurations'][name]}: served / served with one worker, per run: "
            f"{', '.join(map(str, result['ratio_served'][name]['runs']))}; calls served per "
            "worker, per run: "
            + "; ".join(", ".join(f"{k} {v}" for k, v in sorted(b.items())) for b in served_by),
        ]
    details += [
        "- load average after each run's bursts: "
        + "; ".join(
            ", ".join(str(s[name]["load_average"]) for name in s["order"])
            for s in result["samples"]
        ),
        f"- command: {meta}",
        "",
    ]
    return rows, details


def _fmt_s(stats: dict, unit: str) -> str:
    if not stats.get("n"):
        return "-"
    return f"{stats['median']:g} / {stats['p90']:g} {unit}"
