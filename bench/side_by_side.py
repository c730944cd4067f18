"""Ours against LiveKit's minimal voice agent (bench/minimal_agent.py), in one run.

One bundle (supervisord: the embedded LiveKit server, the API, our worker) and, next to it, the
minimal worker registered with the same LiveKit server under another agent name, with the same
providers (the cached provider double), the same turn detector, the same VAD parameters and
turn-handling options, and the same number of warm job processes. Calls alternate between the
two, one at a time: ours through `POST /api/calls` (its token dispatches our agent), the minimal
agent through a token whose room configuration dispatches it (the mechanism our API uses too).

Per call: greeting time (the caller's join -> the first loud frame it hears), then caller turns
of espeak-ng speech, English on even call pairs and Arabic on odd ones, voice-to-voice per turn
(the last speech sample played out of the caller's microphone -> the first loud frame of the
reply), then the caller hangs up.

CPU and memory of each worker's whole process tree over a long window, see `tree_cpu`:

    per call = (CPU(calls + settle) - idle rate x (calls + settle) wall time) / calls

The idle rate is measured over an idle window before the calls; the window after the calls lasts
until each worker has its warm processes back plus a settle time, so the replacement job
processes each call costs are counted, as is the CPU of the job processes that already exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import secrets
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from livekit import api

from bench.calls import REALISTIC, TURN_REPLY, TURN_SENTENCE, TURN_SPEED, ZERO
from bench.common import (
    RESULTS,
    BenchCaller,
    bench_double,
    load_average,
    log,
    running_bundle,
    speech_pcm,
    summary,
)
from tests.e2e.bundle import Bundle
from tests.provider_double.client import ProviderDouble
from tests.support import PROJECT_ROOT, PYTHON, stop_process, wait_until

OURS, MINIMAL = "ours", "minimal"
KINDS = (OURS, MINIMAL)
SENTENCES = {
    "en": TURN_SENTENCE,
    "ar": "كم سعر الخدمة؟",
}
"""The caller's question per language, spoken by espeak-ng at TURN_SPEED (bench/calls.py)."""
REPLIES = {
    "en": TURN_REPLY,
    "ar": "يعتمد السعر على الخدمة، ويمكنني أن أخبرك بكل الأسعار الآن.",
}
MINIMAL_GREETING_REPLY = "Hello, thank you for calling. How can I help you today?"
"""The double's reply to the minimal agent's greeting request (no rule matches it)."""
DELAY_PROFILES = {"zero": ZERO, "realistic": REALISTIC}

IDLE_WINDOW_S = 30.0
"""The idle baseline: both workers warm, no call."""
QUICK_IDLE_WINDOW_S = 15.0
WARM_SETTLE_S = 5.0
"""After the warm processes are all there (polled): their setup (model loading) may still run."""
AFTER_CALLS_SETTLE_S = 15.0
"""After the last call and the warm processes being back (polled): the last job processes end,
replacement processes finish their setup; all counted in the calls' window."""
BETWEEN_CALLS_S = 1.0
"""A pause between one call's hang-up and the next join, as between two real callers."""
QUIET_S = 0.8
"""The agent has finished speaking when it has been silent this long."""
MEMORY_SAMPLE_S = 2.0
REGISTER_TIMEOUT_S = 60.0
WARM_TIMEOUT_S = 120.0


# -- what both workers run with ----------------------------------------------------------------


def our_idle_processes() -> int:
    from agent.worker import IDLE_PROCESSES

    return IDLE_PROCESSES


def our_settings(env: dict[str, str]):  # noqa: ANN201 - app.settings.Settings
    """Our worker's settings as it builds them from the bundle's environment."""
    from app.settings import Settings

    fields = Settings.model_fields
    return Settings(_env_file=None, **{k.lower(): v for k, v in env.items() if k.lower() in fields})


def our_turn_options(env: dict[str, str], minimal_detector: str = "ours") -> dict:
    """Our worker's VAD parameters and turn-handling options, for the minimal agent, read from
    our code with the bundle's settings: agent/turn_taking.py's `turn_handling(settings,
    turn_detector(settings))` and the worker's `silero.VAD.load(min_silence_duration=
    settings.vad_min_silence)`; without agent/turn_taking.py, the framework defaults exactly as
    the worker used them (`silero.VAD.load()`, LiveKit's v1-mini, VAD barge-in).

    `minimal_detector`: "ours" gives the minimal agent our turn detector too (only the rest of
    our code differs), "livekit" gives it LiveKit's audio model (v1-mini)."""
    from livekit.agents.voice import turn
    from livekit.plugins import silero

    settings = our_settings(env)
    vad: dict = {}
    if hasattr(settings, "vad_min_silence"):
        vad["min_silence_duration"] = settings.vad_min_silence
    if (PROJECT_ROOT / "agent" / "turn_taking.py").exists():
        from agent import turn_taking

        detection = turn_taking.turn_detector(settings)
        handling = {
            key: value
            for key, value in turn_taking.turn_handling(settings, detection).items()
            if key != "turn_detection"
        }
        ours = type(detection).__name__
        source = "agent/turn_taking.py and agent/worker.py, with the bundle's settings"
    else:
        handling = {"interruption": {"mode": "vad"}}
        ours = "TurnDetector"
        source = "framework defaults, as agent/worker.py and agent/session.py used them"
    livekit_detector = ours == "TurnDetector"
    params = inspect.signature(silero.VAD.load).parameters
    resolved_vad = {
        name: vad.get(name, param.default)
        for name, param in params.items()
        if name in ("min_speech_duration", "min_silence_duration", "activation_threshold")
    }
    minimal_is_livekit = minimal_detector == "livekit" or livekit_detector
    endpointing_defaults = (
        turn._STREAMING_ENDPOINTING_DEFAULTS if minimal_is_livekit else turn._ENDPOINTING_DEFAULTS
    )
    return {
        "options": {
            "vad": vad,
            "turn_handling": handling,
            "turn_detector": "livekit" if livekit_detector else minimal_detector,
        },
        "source": source,
        "resolved": {
            "vad": resolved_vad,
            "endpointing": {**endpointing_defaults, **handling.get("endpointing", {})},
            "interruption": handling.get("interruption"),
            "ours_turn_detector": ours,
            "minimal_turn_detector": "TurnDetector(v1-mini)"
            if minimal_is_livekit
            else f"{ours} (imported from agent/turn_taking.py)",
        },
    }


# -- CPU and memory of a process tree ---------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_times(pid: int) -> tuple[float, float] | None:
    """(utime + stime, cutime + cstime) of a process in seconds, from /proc/<pid>/stat."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after the command name, field 3 onwards
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])  # fields 14-17
    return (utime + stime) / CLOCK_TICKS, (cutime + cstime) / CLOCK_TICKS


def tree_pids(root: int) -> list[int]:
    try:
        proc = psutil.Process(root)
        return [root, *(child.pid for child in proc.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def tree_cpu(root: int) -> dict:
    """CPU seconds ever spent by a process tree, including its processes that already exited.

    What /proc counts (proc(5), kernel/exit.c): a process's utime/stime are all of its threads,
    those that exited included; its cutime/cstime are the utime+stime+cutime+cstime of each
    child it has *waited for* (reaped), added at reap time, so they hold every reaped
    descendant, never a live one. Hence, summed over the live processes of the tree:

        sum(utime + stime + cutime + cstime)

    counts every process that ever ran in the tree exactly once: a live process by its own
    times, an exited one in the cutime of the live ancestor that reaped it (or of that
    ancestor's reaper, once the ancestor itself exits and is reaped). Taking only the root's
    cutime and the children's utime+stime would miss the job processes: a LiveKit worker forks
    them from its multiprocessing *forkserver*, which reaps them, so their CPU lands in the
    forkserver's cutime; the root's cutime grows only when the forkserver itself ends. No
    double counting: a live child is in no one's cutime until it is reaped.

    Not counted: a process reaped outside the tree (orphaned and re-parented to init), and,
    transiently, one that exited but whose parent had not reaped it when the parent's stat was
    read after its own vanished (the reap comes within milliseconds; the final sample is taken
    after a settle time). Zombies still show their own times and are counted once."""
    own = reaped = 0.0
    pids = tree_pids(root)
    for pid in pids:
        times = _stat_times(pid)
        if times is not None:
            own += times[0]
            reaped += times[1]
    return {
        "cpu_s": own + reaped,
        "own_s": own,
        "reaped_s": reaped,
        "processes": len(pids),
        "at": time.monotonic(),
    }


def tree_pss(root: int) -> int:
    """Proportional set size of a tree in bytes (/proc/<pid>/smaps_rollup): pages shared
    copy-on-write between the forkserver and its job processes are split between them, not
    counted once per process."""
    total = 0
    for pid in tree_pids(root):
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
    return total


def warm_processes(root: int) -> int:
    """Job processes of a worker: the children of its forkserver (the root's grandchildren)."""
    try:
        return sum(len(child.children()) for child in psutil.Process(root).children())
    except psutil.NoSuchProcess:
        return 0


class MemorySampler:
    """PSS of each tree every MEMORY_SAMPLE_S, in a thread (the callers' event loop never
    waits for it), labelled with the phase it was taken in."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self.phase = "setup"
        self.samples: dict[str, dict[str, list[int]]] = {kind: {} for kind in roots}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(MEMORY_SAMPLE_S):
            phase = self.phase
            for kind, root in self.roots.items():
                self.samples[kind].setdefault(phase, []).append(tree_pss(root))

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def median_mib(self, kind: str, phase: str) -> float | None:
        values = self.samples[kind].get(phase)
        return round(statistics.median(values) / 2**20, 1) if values else None


# -- the minimal worker --------------------------------------------------------------------------


@dataclass
class MinimalWorker:
    process: subprocess.Popen
    agent_name: str
    idle_processes: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def registered(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the minimal worker exited, see {self.log_path}")
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "registered worker" in text


@contextlib.contextmanager
def minimal_worker(bundle: Bundle, idle_processes: int, turn_options: dict) -> Iterator:
    agent_name = f"minimal-{secrets.token_hex(3)}"
    log_path = RESULTS / "logs" / "minimal_agent.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "ELEVEN_", "LIVEKIT_"))
    }
    env.update({key: bundle.env[key] for key in ("STT_MODEL", "TTS_MODEL", "LLM_MODEL")})
    env.update(
        {
            "PYTHONPATH": str(PROJECT_ROOT),
            "LIVEKIT_URL": bundle.livekit_url,
            "LIVEKIT_API_KEY": bundle.env["LIVEKIT_API_KEY"],
            "LIVEKIT_API_SECRET": bundle.env["LIVEKIT_API_SECRET"],
            "OPENAI_BASE_URL": bundle.env["OPENAI_BASE_URL"],
            "OPENAI_API_KEY": bundle.env["OPENAI_API_KEY"],
            "MINIMAL_AGENT_NAME": agent_name,
            "MINIMAL_IDLE_PROCESSES": str(idle_processes),
            "MINIMAL_TURN_OPTIONS": json.dumps(turn_options),
        }
    )
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [PYTHON, "-m", "bench.minimal_agent", "start"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    worker = MinimalWorker(process, agent_name, idle_processes, log_path)
    try:
        wait_until(worker.registered, timeout=REGISTER_TIMEOUT_S, what="the minimal worker")
        yield worker
    finally:
        stop_process(process, timeout=30)


# -- callers --------------------------------------------------------------------------------------


class TokenCaller(BenchCaller):
    """The benchmark's caller joining with a LiveKit token it was given, not through our API."""

    async def join_token(self, livekit_url: str, token: str) -> None:
        await self.join_call({"livekit_url": livekit_url, "token": token})
        self._mic_task = asyncio.create_task(self._microphone())


def minimal_token(bundle: Bundle, agent_name: str, language: str) -> str:
    """As app/livekit_tokens.caller_token: a fresh room whose creation dispatches the agent."""
    room = f"minimal-{secrets.token_hex(8)}"
    grants = api.VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=True)
    dispatch = api.RoomAgentDispatch(agent_name=agent_name, metadata=language)
    return (
        api.AccessToken(bundle.env["LIVEKIT_API_KEY"], bundle.env["LIVEKIT_API_SECRET"])
        .with_identity(f"caller-{secrets.token_hex(6)}")
        .with_name("Caller")
        .with_grants(grants)
        .with_room_config(api.RoomConfiguration(agents=[dispatch]))
        .to_jwt()
    )


@dataclass
class CallResult:
    kind: str
    language: str
    greeting_ms: float | None = None
    agent_joined_ms: float | None = None
    voice_to_voice_ms: list[float] = field(default_factory=list)
    timeline_ms: list[dict] = field(default_factory=list)
    """per turn, from the provider double's log: when the STT upload, the first chat request and
    the first speech request of the reply arrived, after the caller's end of speech"""
    error: str | None = None


async def one_call(
    kind: str,
    language: str,
    turns: int,
    bundle: Bundle,
    double: ProviderDouble,
    worker: MinimalWorker,
    pcm: dict,
) -> CallResult:
    result = CallResult(kind, language)
    caller: BenchCaller
    if kind == OURS:
        caller = BenchCaller(bundle.api_url)
        join = caller.join(language=language)
    else:
        caller = TokenCaller(bundle.api_url)
        token = minimal_token(bundle, worker.agent_name, language)
        join = caller.join_token(bundle.livekit_url, token)
    try:
        await join
        result.agent_joined_ms = round(await caller.wait_for_agent(timeout=20) * 1000, 1)
        await caller.wait_for_speech(since=caller.joined_at, timeout=30)
        result.greeting_ms = round((caller.heard.first_loud_at - caller.joined_at) * 1000, 1)
        await caller.wait_for_quiet(QUIET_S)
        for _ in range(turns):
            await double.autterances([{"text": SENTENCES[language], "language": language}])
            spoken = await caller.say_pcm(pcm[language])
            await caller.wait_for(
                lambda s=spoken: caller.first_loud_after(s.ended) is not None, 30, "the reply"
            )
            reply_at = caller.first_loud_after(spoken.ended)
            result.voice_to_voice_ms.append(round((reply_at - spoken.ended) * 1000, 1))
            await caller.wait_for_quiet(QUIET_S)
            result.timeline_ms.append(timeline(await double.alog(), spoken.ended_wall))
    except Exception as error:  # noqa: BLE001 - a failed call is reported, the run goes on
        result.error = f"{type(error).__name__}: {error}"
    finally:
        await caller.hang_up()
    return result


def timeline(double_log: dict, ended_wall: float) -> dict:
    """The provider requests of one turn, in ms after the caller's end of speech."""

    def first(kind: str, keep=lambda entry: True) -> float | None:
        times = [e["time"] for e in double_log[kind] if e["time"] > ended_wall and keep(e)]
        return round((min(times) - ended_wall) * 1000, 1) if times else None

    return {
        "stt_upload": first("transcriptions", lambda e: not e.get("silent", True)),
        "llm_request": first("chat"),
        "tts_request": first("speech"),
    }


def job_process_cpu(root: int) -> list[float]:
    """Own CPU seconds of each job process (the forkserver's children) of a worker."""
    out = []
    with contextlib.suppress(psutil.NoSuchProcess):
        for server in psutil.Process(root).children():
            for child in server.children():
                times = _stat_times(child.pid)
                if times is not None:
                    out.append(round(times[0], 2))
    return out


# -- the run ---------------------------------------------------------------------------------


async def wait_warm(roots: dict[str, int], idle: dict[str, int]) -> None:
    deadline = time.monotonic() + WARM_TIMEOUT_S
    while not all(warm_processes(roots[k]) >= idle[k] for k in roots):
        if time.monotonic() > deadline:
            counts = {k: warm_processes(r) for k, r in roots.items()}
            raise TimeoutError(f"warm job processes {counts}, expected {idle}")
        await asyncio.sleep(0.2)


async def side_by_side(
    bundle: Bundle,
    double: ProviderDouble,
    worker: MinimalWorker,
    *,
    pairs: int,
    turns: int,
    idle_window: float,
    delays: dict,
    settings: dict,
) -> dict:
    roots = {OURS: bundle.pid("agent"), MINIMAL: worker.pid}
    idle = {OURS: our_idle_processes(), MINIMAL: worker.idle_processes}
    api_root = bundle.pid("api")
    me = psutil.Process()
    await double.areset()
    await double.adelays(**delays)
    await double.aconfig(default_reply=MINIMAL_GREETING_REPLY)
    await double.ascript(
        [
            {
                "match": {"last_role": "user", "last_contains": "cost"},
                "reply": {"text": REPLIES["en"]},
            },
            {"match": {"last_role": "user"}, "reply": {"text": REPLIES["ar"]}},
        ]
    )
    pcm = {lang: await speech_pcm(text, lang, TURN_SPEED) for lang, text in SENTENCES.items()}
    out: dict = {
        "settings": settings,
        "delays": delays,
        "calls_per_agent": pairs,
        "turns_per_call": turns,
        "sentences": SENTENCES,
        "roots": {
            "ours": "supervisord's `agent` program (python -m agent start)",
            "minimal": "python -m bench.minimal_agent start",
        },
    }
    with MemorySampler(roots) as memory:
        await wait_warm(roots, idle)
        # one call each per language, not measured: the double's synthesis cache, first imports
        log("side-by-side: warm-up calls")
        warmup = []
        for language in SENTENCES:
            for kind in KINDS:
                warmup.append(await one_call(kind, language, 1, bundle, double, worker, pcm))
        out["warmup_errors"] = [r.error for r in warmup if r.error]
        await wait_warm(roots, idle)
        await asyncio.sleep(WARM_SETTLE_S)

        log(f"side-by-side: idle baseline {idle_window:.0f} s")
        memory.phase = "idle"
        start = {k: tree_cpu(r) for k, r in roots.items()}
        warm_cpu = {k: job_process_cpu(r) for k, r in roots.items()}
        api0, me0 = tree_cpu(api_root), sum(me.cpu_times()[:2])
        await asyncio.sleep(idle_window)
        base = {k: tree_cpu(r) for k, r in roots.items()}
        api1, me1 = tree_cpu(api_root), sum(me.cpu_times()[:2])

        memory.phase = "calls"
        load_before = load_average()
        results: list[CallResult] = []
        for i in range(pairs):
            language = "en" if i % 2 == 0 else "ar"
            order = KINDS if i % 4 in (0, 3) else KINDS[::-1]
            for kind in order:
                result = await one_call(kind, language, turns, bundle, double, worker, pcm)
                results.append(result)
                log(
                    f"side-by-side: {kind} call {i + 1}/{pairs} ({language}): greeting "
                    f"{result.greeting_ms} ms, voice-to-voice {result.voice_to_voice_ms} ms"
                    + (f", FAILED {result.error}" if result.error else "")
                )
                await asyncio.sleep(BETWEEN_CALLS_S)
        calls_done = time.monotonic()
        memory.phase = "settle"
        await wait_warm(roots, idle)
        await asyncio.sleep(AFTER_CALLS_SETTLE_S)
        end = {k: tree_cpu(r) for k, r in roots.items()}
        api2, me2 = tree_cpu(api_root), sum(me.cpu_times()[:2])
        load_after = load_average()

    out["load_average_during"] = {"before_calls": load_before, "after_settle": load_after}
    out["calls"] = [r.__dict__ for r in results]
    idle_s = base[OURS]["at"] - start[OURS]["at"]
    window_s = end[OURS]["at"] - base[OURS]["at"]
    out["windows_s"] = {
        "idle": round(idle_s, 1),
        "calls_and_settle": round(window_s, 1),
        "calls": round(calls_done - base[OURS]["at"], 1),
    }
    agents: dict = {}
    for kind in KINDS:
        mine = [r for r in results if r.kind == kind]
        idle_rate = (base[kind]["cpu_s"] - start[kind]["cpu_s"]) / idle_s
        delta = end[kind]["cpu_s"] - base[kind]["cpu_s"]
        agents[kind] = {
            "voice_to_voice_ms": summary([v for r in mine for v in r.voice_to_voice_ms]),
            "voice_to_voice_by_language_ms": {
                lang: summary([v for r in mine if r.language == lang for v in r.voice_to_voice_ms])
                for lang in SENTENCES
            },
            "greeting_ms": summary([r.greeting_ms for r in mine if r.greeting_ms is not None]),
            "agent_joined_ms": summary(
                [r.agent_joined_ms for r in mine if r.agent_joined_ms is not None]
            ),
            "failed_calls": sum(1 for r in mine if r.error),
            "provider_requests_after_speech_ms": {
                key: summary([t[key] for r in mine for t in r.timeline_ms if t[key] is not None])
                for key in ("stt_upload", "llm_request", "tts_request")
            },
            "warm_job_process_cpu_s": warm_cpu[kind],
            "idle_cpu_cores": round(idle_rate, 4),
            "window_cpu_s": round(delta, 2),
            "cpu_s_per_call": round((delta - idle_rate * window_s) / len(mine), 3),
            "reaped_cpu_s_in_window": round(end[kind]["reaped_s"] - base[kind]["reaped_s"], 2),
            "processes": {"idle": base[kind]["processes"], "end": end[kind]["processes"]},
            "pss_mib": {
                "idle_median": memory.median_mib(kind, "idle"),
                "calls_median": memory.median_mib(kind, "calls"),
            },
            "idle_processes": idle[kind],
        }
    api_idle_rate = (api1["cpu_s"] - api0["cpu_s"]) / idle_s
    agents[OURS]["api_cpu_s_per_call"] = round(
        (api2["cpu_s"] - api1["cpu_s"] - api_idle_rate * window_s) / pairs, 3
    )
    out["callers_cpu_s"] = {"idle": round(me1 - me0, 2), "calls": round(me2 - me1, 2)}
    out["agents"] = agents
    out["ratios"] = ratios(agents)
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b:
        return None
    return round(a / b, 3)


def ratios(agents: dict) -> dict:
    ours, minimal = agents[OURS], agents[MINIMAL]
    return {
        "voice_to_voice_p50": _ratio(
            ours["voice_to_voice_ms"].get("median"), minimal["voice_to_voice_ms"].get("median")
        ),
        "voice_to_voice_p90": _ratio(
            ours["voice_to_voice_ms"].get("p90"), minimal["voice_to_voice_ms"].get("p90")
        ),
        "greeting_p50": _ratio(
            ours["greeting_ms"].get("median"), minimal["greeting_ms"].get("median")
        ),
        "cpu_per_call": _ratio(ours["cpu_s_per_call"], minimal["cpu_s_per_call"]),
        "pss_calls": _ratio(ours["pss_mib"]["calls_median"], minimal["pss_mib"]["calls_median"]),
        "pss_idle": _ratio(ours["pss_mib"]["idle_median"], minimal["pss_mib"]["idle_median"]),
    }


# -- entry points for bench.run ---------------------------------------------------------------

TARGETS = {"voice_to_voice_p50": 1.0, "voice_to_voice_p90": 1.0, "cpu_per_call": 1.1}


def run_side_by_side(
    quick: bool = False, delays: str = "zero", minimal_detector: str = "ours"
) -> dict:
    """One run: `quick` places 2 calls per agent of 2 turns each, else 8 calls of 3 turns.
    `delays`: the provider double's, "zero" or "realistic" (bench/calls.py). `minimal_detector`:
    "ours" (the minimal agent uses our turn detector: only the rest of our code differs) or
    "livekit" (LiveKit's v1-mini)."""
    pairs, turns = (2, 2) if quick else (8, 3)
    idle_window = QUICK_IDLE_WINDOW_S if quick else IDLE_WINDOW_S
    with bench_double() as double, running_bundle(double) as bundle:
        turn = our_turn_options(bundle.env, minimal_detector)
        idle = our_idle_processes()
        with minimal_worker(bundle, idle, turn["options"]) as worker:
            log(f"side-by-side: minimal worker {worker.agent_name} registered (pid {worker.pid})")
            return asyncio.run(
                side_by_side(
                    bundle,
                    double,
                    worker,
                    pairs=pairs,
                    turns=turns,
                    idle_window=idle_window,
                    delays=DELAY_PROFILES[delays],
                    settings={"turn_taking": turn, "idle_processes": idle},
                )
            )


def _cell(stats: dict) -> str:
    if not stats or not stats.get("n"):
        return "-"
    return f"{stats['median']:g} / {stats['p90']:g} ms (n={stats['n']})"


def _status(value: float | None, target: float | None) -> str:
    if value is None:
        return "-"
    if target is None:
        return f"{value:g}"
    return f"{value:g} ({'met' if value <= target else '**missed**'}, target <= {target:g})"


def _mean_s(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f} s (n={len(values)})" if values else "-"


def by_lang(agent: dict, language: str) -> dict:
    return agent["voice_to_voice_by_language_ms"][language]


def render_side_by_side(result: dict) -> str:
    """The markdown section of BENCHMARKS.md for this figure."""
    ours, minimal = result["agents"][OURS], result["agents"][MINIMAL]
    r = result["ratios"]
    turn = result["settings"]["turn_taking"]["resolved"]
    rows = [
        (
            "voice-to-voice, median / P90",
            _cell(ours["voice_to_voice_ms"]),
            _cell(minimal["voice_to_voice_ms"]),
            f"P50 {_status(r['voice_to_voice_p50'], TARGETS['voice_to_voice_p50'])}; "
            f"P90 {_status(r['voice_to_voice_p90'], TARGETS['voice_to_voice_p90'])}",
        ),
        (
            "greeting (join -> first audio), median / P90",
            _cell(ours["greeting_ms"]),
            _cell(minimal["greeting_ms"]),
            _status(r["greeting_p50"], None),
        ),
        (
            "agent joined after the caller, median / P90",
            _cell(ours["agent_joined_ms"]),
            _cell(minimal["agent_joined_ms"]),
            "-",
        ),
        (
            "CPU per call (whole worker tree, idle subtracted)",
            f"{ours['cpu_s_per_call']:g} s",
            f"{minimal['cpu_s_per_call']:g} s",
            _status(r["cpu_per_call"], TARGETS["cpu_per_call"]),
        ),
        (
            "worker tree idle",
            f"{ours['idle_cpu_cores'] * 100:.1f} % of a core",
            f"{minimal['idle_cpu_cores'] * 100:.1f} % of a core",
            "-",
        ),
        (
            "memory (PSS of the tree), median during calls",
            f"{ours['pss_mib']['calls_median']} MiB",
            f"{minimal['pss_mib']['calls_median']} MiB",
            _status(r["pss_calls"], None),
        ),
        (
            "memory (PSS of the tree), idle",
            f"{ours['pss_mib']['idle_median']} MiB",
            f"{minimal['pss_mib']['idle_median']} MiB",
            _status(r["pss_idle"], None),
        ),
        ("failed calls", str(ours["failed_calls"]), str(minimal["failed_calls"]), "-"),
        *(
            (
                f"end of speech -> {what} at the provider, median / P90",
                _cell(ours["provider_requests_after_speech_ms"][key]),
                _cell(minimal["provider_requests_after_speech_ms"][key]),
                "-",
            )
            for key, what in (
                ("stt_upload", "STT upload"),
                ("llm_request", "first LLM request"),
                ("tts_request", "first TTS request"),
            )
        ),
        (
            "CPU of one warm job process (setup, then idle)",
            _mean_s(ours["warm_job_process_cpu_s"]),
            _mean_s(minimal["warm_job_process_cpu_s"]),
            "-",
        ),
    ]
    lines = [
        "### Side by side: ours against LiveKit's minimal voice agent",
        "",
        "One run, one bundle: our worker and `bench/minimal_agent.py` (the livekit/agents "
        "example's voice agent: `openai` STT, LLM and TTS, silero VAD, one line of "
        "instructions, greets with `generate_reply`) registered with the same LiveKit server, "
        "alternating calls one at a time; English on even call pairs, Arabic on odd ones. "
        f"{result['calls_per_agent']} calls per agent, {result['turns_per_call']} caller turns "
        f"each; provider double delays: {result['delays']}.",
        "",
        "| | ours | minimal | ours / minimal |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
        f"- both: VAD {turn['vad']}, endpointing {turn['endpointing']}, interruption "
        f"{turn['interruption']}; turn detector: ours {turn['ours_turn_detector']}, minimal "
        f"{turn['minimal_turn_detector']} "
        f"({result['settings']['turn_taking']['source']}); "
        f"{result['settings']['idle_processes']} warm job processes each.",
        "- CPU per call = (CPU of the worker's process tree over the calls plus "
        f"{AFTER_CALLS_SETTLE_S:g} s of settle after the warm processes are back, minus the "
        "idle rate over the same time) / calls. The tree's CPU is the sum over its live "
        "processes of utime+stime+cutime+cstime (/proc/<pid>/stat): cutime/cstime hold the "
        "job processes that exited (reaped by the forkserver), never a live one "
        "(`bench/side_by_side.py: tree_cpu`). "
        f"Windows: idle {result['windows_s']['idle']} s, calls and settle "
        f"{result['windows_s']['calls_and_settle']} s.",
        f"- outside the worker, our API process spent {ours['api_cpu_s_per_call']:g} s of CPU "
        "per call (`POST /api/calls`, the CRM); the minimal agent has no such process.",
        f"- voice-to-voice by language, ours: en {_cell(by_lang(ours, 'en'))}, ar "
        f"{_cell(by_lang(ours, 'ar'))}; minimal: en {_cell(by_lang(minimal, 'en'))}, ar "
        f"{_cell(by_lang(minimal, 'ar'))}.",
    ]
    meta = result.get("_meta")
    if meta:
        lines.append(
            f"- command: `{meta.get('command', '')}` ({meta.get('seconds', '?')} s; load average "
            f"before {meta.get('load_average_before')}, after {meta.get('load_average_after')})"
        )
    return "\n".join(lines) + "\n"
