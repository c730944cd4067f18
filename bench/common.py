"""What every benchmark shares: statistics, the cached provider double, the bundle, a caller
with a live microphone, and the machine's description."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
from livekit import rtc

from tests.e2e.bundle import Bundle, start_bundle
from tests.e2e.caller import FRAME_MS, SAMPLE_RATE, Caller
from tests.provider_double.client import ProviderDouble
from tests.provider_double.server import espeak_pcm_async
from tests.support import PROJECT_ROOT, PYTHON, stop_process

RESULTS = PROJECT_ROOT / "bench" / "results"
SPEECH_RMS = 300.0
"""int16 RMS of a 10 ms window that counts as the caller's speech (espeak's trailing silence is
below it); the caller's end of speech is the end of the last such window."""


# -- statistics ------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def summary(values: list[float], digits: int = 1) -> dict:
    """n, median, P90, P99, min, max of a sample (same unit as the values)."""
    vals = [float(v) for v in values]
    if not vals:
        return {"n": 0}
    return {
        "n": len(vals),
        "median": round(percentile(vals, 50), digits),
        "p90": round(percentile(vals, 90), digits),
        "p99": round(percentile(vals, 99), digits),
        "min": round(min(vals), digits),
        "max": round(max(vals), digits),
    }


def save(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return path


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the machine -----------------------------------------------------------------------------


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError):
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        mem_kb = int(first.split()[1])
    versions = {"python": platform.python_version()}
    for dist in (
        "livekit-agents",
        "livekit",
        "livekit-plugins-silero",
        "livekit-local-inference",
        "fastapi",
        "uvicorn",
        "starlette",
        "pydantic",
        "sqlite-utils",
        "numpy",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    import sqlite3

    versions["sqlite"] = sqlite3.sqlite_version
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            [str(PROJECT_ROOT / "bin" / "livekit-server"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        versions["livekit-server"] = out.strip().split()[-1] if out.strip() else ""
    if shutil.which("wrk"):
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
        versions["wrk"] = out.split()[1] if out else ""
    commit = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--", "app", "agent"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "versions": versions,
        "commit": commit + ("+local changes" if dirty else ""),
    }


# -- the provider double with cached synthesis (bench/double.py) ----------------------------


@contextlib.contextmanager
def bench_double() -> Iterator[ProviderDouble]:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [PYTHON, "-m", "bench.double", "--host", "127.0.0.1", "--port", "0"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = b""
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + 20
            while b"\n" not in line and time.monotonic() < deadline:
                if sel.select(timeout=1):
                    chunk = os.read(proc.stdout.fileno(), 1024)
                    if not chunk:
                        break
                    line += chunk
        word, port = line.decode().split()[:2]
        assert word == "LISTENING", line
        double = ProviderDouble(url=f"http://127.0.0.1:{port}")
        yield double
        double.stop()
    finally:
        stop_process(proc, timeout=5)


@contextlib.contextmanager
def running_bundle(
    double: ProviderDouble, extra_env: dict | None = None, *, phone: bool = False
) -> Iterator[Bundle]:
    bundle = start_bundle(double.base_url, extra_env=extra_env, phone=phone)
    try:
        bundle.wait_ready(timeout=120)
        yield bundle
    finally:
        bundle.stop()
        logs = RESULTS / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for path in (bundle.root / "logs").glob("*.log"):
            shutil.copy(path, logs / path.name)
        shutil.rmtree(bundle.root, ignore_errors=True)


# -- a caller with a live microphone ------------------------------------------------------


def trim_silence(audio: np.ndarray, rate: int) -> np.ndarray:
    """Cut leading and trailing silence (10 ms windows below SPEECH_RMS)."""
    window = rate // 100
    n = len(audio) // window
    frames = audio[: n * window].astype(np.float64).reshape(n, window)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > SPEECH_RMS)
    if not loud.size:
        return audio
    return audio[loud[0] * window : (loud[-1] + 1) * window]


@dataclass
class Spoken:
    ended: float
    """time.monotonic() when the last speech sample left the microphone's queue"""
    ended_wall: float
    """the same moment as time.time()"""
    duration: float


class BenchCaller(Caller):
    """The e2e caller with a microphone that never stops: silence between sentences, as a real
    microphone sends, so the agent's VAD sees the silence after speech in real time.

    `say` pushes the sentence without espeak's leading and trailing silence and returns the
    moment its last sample was played out into the call (`AudioSource.wait_for_playout`)."""

    def __init__(self, api_url: str, rate: int = SAMPLE_RATE) -> None:
        super().__init__(api_url)
        self.rate = rate
        self._source = rtc.AudioSource(rate, 1, queue_size_ms=100)
        self._mic_lock = asyncio.Lock()
        self._mic_task: asyncio.Task | None = None
        self.loud_wall: list[float] = []
        self.failed: str | None = None

    async def join(self, **body: object) -> None:
        await super().join(**body)
        self._mic_task = asyncio.create_task(self._microphone())

    async def _microphone(self) -> None:
        step = self.rate * FRAME_MS // 1000
        silence = rtc.AudioFrame(bytes(step * 2), self.rate, 1, step)
        while True:
            async with self._mic_lock:
                await self._source.capture_frame(silence)

    async def _listen(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=self.rate, num_channels=1)
        self._streams.append(stream)
        async for event in stream:
            samples = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float32)
            self.heard.frames += 1
            if samples.size and np.sqrt(np.mean(samples**2)) > 200.0:
                now = time.monotonic()
                self.heard.loud_frames += 1
                self.heard.loud_times.append(now)
                self.loud_wall.append(time.time())
                if self.heard.first_loud_at is None:
                    self.heard.first_loud_at = now

    def first_loud_after(self, moment: float) -> float | None:
        return next((t for t in self.heard.loud_times if t > moment), None)

    def first_loud_wall_after(self, moment: float) -> float | None:
        return next((t for t in self.loud_wall if t > moment), None)

    async def say_pcm(self, audio: np.ndarray) -> Spoken:
        """Speak `audio` (int16 at `self.rate`); returns when its last sample was played out."""
        step = self.rate * FRAME_MS // 1000
        async with self._mic_lock:
            await self._source.wait_for_playout()
            for start in range(0, len(audio), step):
                chunk = audio[start : start + step]
                if len(chunk) < step:
                    chunk = np.pad(chunk, (0, step - len(chunk)))
                frame = rtc.AudioFrame(chunk.tobytes(), self.rate, 1, step)
                await self._source.capture_frame(frame)
            await self._source.wait_for_playout()
            ended, ended_wall = time.monotonic(), time.time()
        return Spoken(ended=ended, ended_wall=ended_wall, duration=len(audio) / self.rate)

    async def hang_up(self) -> None:
        if self._mic_task is not None:
            self._mic_task.cancel()
            await asyncio.gather(self._mic_task, return_exceptions=True)
        await super().hang_up()


async def speech_pcm(
    text: str, language: str, speed: float = 1.0, rate: int = SAMPLE_RATE
) -> np.ndarray:
    """espeak-ng speech at `rate`, leading and trailing silence trimmed."""
    pcm, source_rate = await espeak_pcm_async(text, language, speed)
    audio = np.frombuffer(pcm, dtype=np.int16)
    if source_rate != rate:
        positions = np.arange(0, len(audio), source_rate / rate)
        audio = np.interp(positions, np.arange(len(audio)), audio).astype(np.int16)
    return trim_silence(audio, rate)


# -- processes -----------------------------------------------------------------------------


def process_tree(pid: int) -> list:
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_usage(pid: int) -> tuple[float, int]:
    """(CPU seconds user+system, resident bytes as PSS where readable) of a process tree."""
    import psutil

    cpu, mem = 0.0, 0
    for proc in process_tree(pid):
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            cpu += times.user + times.system + times.children_user + times.children_system
            try:
                mem += proc.memory_full_info().pss
            except (psutil.AccessDenied, AttributeError):
                mem += proc.memory_info().rss
    return cpu, mem
