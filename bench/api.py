"""The API: `POST /api/calls` throughput and latency under concurrency, and the CRM lookup by
phone with 1,000,000 customers, in-process and over HTTP.

The API runs as configured (`python -m app`, one uvicorn process) on a scratch CRM file and
free port; the load comes from `wrk` (Debian's package) in another process on loopback, each
run bounded by its duration. Without wrk, a bounded asyncio httpx client stands in.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import os
import random
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.common import PROJECT_ROOT, log, summary
from tests.support import PYTHON, free_port, stop_process, wait_until

CUSTOMERS = 1_000_000
CACHE = Path(tempfile.gettempdir()) / "ornina-bench"
"""The 1,000,000-customer CRM is built once and kept here between runs."""


def phone_of(i: int) -> str:
    """The i-th customer's number: Saudi mobile numbers, E.164, all distinct."""
    return f"+96655{i:07d}"


# -- the API process -------------------------------------------------------------------------


WORKER_STATUS = b'{"agent_name": "ornina-bench", "registered": true, "draining": false}'


@contextlib.contextmanager
def worker_status_stub() -> Iterator[str]:
    """A stand-in for the worker's status endpoint, which `POST /api/calls` asks (at most once
    a second) before it hands out a token: a registered worker, as in production."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(WORKER_STATUS)))
            self.end_headers()
            self.wfile.write(WORKER_STATUS)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def api_process(db_path: Path) -> Iterator[tuple[str, str]]:
    """`python -m app` on a free port; yields (base URL, operator key)."""
    with worker_status_stub() as status_url, _api_process(db_path, status_url) as running:
        yield running


@contextlib.contextmanager
def _api_process(db_path: Path, status_url: str) -> Iterator[tuple[str, str]]:
    port, key = free_port(), secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ELEVEN_"))}
    env.update(
        ORNINA_ENV_FILE=os.devnull,
        LIVEKIT_URL="ws://127.0.0.1:7880",
        LIVEKIT_API_KEY="devkey",
        LIVEKIT_API_SECRET="secret",
        API_PORT=str(port),
        CRM_DB_PATH=str(db_path),
        OPERATOR_API_KEY=key,
        CALLS_RATE_LIMIT_PER_MINUTE="100000",
        AGENT_NAME="ornina-bench",
        AGENT_HEALTH_URL=status_url,
    )
    proc = subprocess.Popen(
        [PYTHON, "-m", "app"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/healthz").status_code == 200, timeout=30)
        yield url, key
    finally:
        stop_process(proc)


# -- load generation -------------------------------------------------------------------------

WRK_POST = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"language": "en", "department": "reception"}'
"""

WRK_LOOKUP = """
math.randomseed(%(seed)d)
wrk.headers["X-API-Key"] = "%(key)s"
request = function()
  return wrk.format("GET", "/api/customers/lookup?phone=%%2B96655" ..
    string.format("%%07d", math.random(0, %(last)d)))
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * _UNITS[unit]


def wrk(url: str, script: str, *, connections: int, seconds: int, threads: int = 1) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{min(threads, connections)}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                file.name,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
        ).stdout
    finally:
        os.unlink(file.name)
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for q in ("50", "90", "99"):
        result[f"p{q}_ms"] = round(_ms(re.search(rf"\s{q}%\s+(\S+)", out).group(1)), 2)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non_2xx"] = int(errors.group(1)) if errors else 0
    socket_errors = re.search(r"Socket errors: (.*)", out)
    result["socket_errors"] = socket_errors.group(1) if socket_errors else ""
    return result


async def _httpx_load(url: str, method: str, make_path, headers, body, connections, seconds):
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:

        async def worker() -> None:
            nonlocal failures
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await client.request(method, make_path(), headers=headers, json=body)
                latencies.append((time.perf_counter() - started) * 1000)
                failures += response.status_code >= 400

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        wall = time.monotonic() - started
    stats = summary(latencies, 2)
    return {
        "rps": round(len(latencies) / wall, 1),
        "p50_ms": stats["median"],
        "p90_ms": stats["p90"],
        "p99_ms": stats["p99"],
        "non_2xx": failures,
        "generator": "httpx",
    }


def load(url: str, kind: str, *, key: str, connections: int, seconds: int) -> dict:
    if shutil.which("wrk"):
        if kind == "post":
            return wrk(f"{url}/api/calls", WRK_POST, connections=connections, seconds=seconds)
        script = WRK_LOOKUP % {"seed": random.randrange(1 << 30), "key": key, "last": CUSTOMERS - 1}
        return wrk(url, script, connections=connections, seconds=seconds)
    if kind == "post":
        return asyncio.run(
            _httpx_load(
                url, "POST", lambda: "/api/calls", None, {"language": "en"}, connections, seconds
            )
        )
    return asyncio.run(
        _httpx_load(
            url,
            "GET",
            lambda: f"/api/customers/lookup?phone=%2B96655{random.randrange(CUSTOMERS):07d}",
            {"X-API-Key": key},
            None,
            connections,
            seconds,
        )
    )


# -- POST /api/calls ---------------------------------------------------------------------------


def bench_calls_endpoint(
    connections: tuple[int, ...] = (1, 16, 64), runs: int = 3, seconds: int = 8
) -> dict:
    """Each run on a fresh API process and CRM file (the rate limiter counts per minute)."""
    out: dict = {"generator": "wrk" if shutil.which("wrk") else "httpx", "levels": {}}
    for c in connections:
        samples = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="ornina-bench-api-") as scratch:
                with api_process(Path(scratch) / "crm.sqlite3") as (url, key):
                    # warm-up: imports, first connection, JWT signer
                    load(url, "post", key=key, connections=c, seconds=1)
                    sample = load(url, "post", key=key, connections=c, seconds=seconds)
                    if shutil.which("wrk"):
                        # the framework's floor on this machine now: a bare sync endpoint
                        bare = wrk(f"{url}/healthz", "", connections=c, seconds=seconds)
                        sample["healthz_rps"] = bare["rps"]
                        sample["ratio_to_healthz"] = round(sample["rps"] / bare["rps"], 3)
                    samples.append(sample)
        out["levels"][str(c)] = {
            "runs": samples,
            "rps": summary([s["rps"] for s in samples]),
            "p50_ms": summary([s["p50_ms"] for s in samples], 2),
            "p99_ms": summary([s["p99_ms"] for s in samples], 2),
            "healthz_rps": summary([s["healthz_rps"] for s in samples if "healthz_rps" in s]),
            "ratio_to_healthz": summary(
                [s["ratio_to_healthz"] for s in samples if "ratio_to_healthz" in s], 3
            ),
        }
        log(f"api: POST /api/calls c={c}: {[s['rps'] for s in samples]} req/s")
    return out


# -- CRM lookup with 1,000,000 customers ------------------------------------------------------


def big_crm() -> Path:
    """A migrated CRM file with CUSTOMERS customers (built once, then reused)."""
    from sqlite_utils import Database

    from app.crm import open_crm

    path = CACHE / f"crm-{CUSTOMERS}.sqlite3"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    building = path.with_suffix(".building")
    building.unlink(missing_ok=True)
    open_crm(building).close()
    db = Database(building)
    db.conn.execute("PRAGMA journal_mode = WAL")
    db.conn.execute("PRAGMA synchronous = OFF")
    stamp = "2026-01-01T00:00:00.000Z"
    log(f"api: inserting {CUSTOMERS:,} customers (once; kept in {CACHE})")
    started = time.monotonic()
    rows = (
        {
            "id": i + 1,
            "phone": phone_of(i),
            "name": f"Customer {i}",
            "language": "ar" if i % 2 else "en",
            "created_at": stamp,
            "updated_at": stamp,
        }
        for i in range(CUSTOMERS)
    )
    db["customers"].insert_all(rows, batch_size=20_000)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for suffix in ("-wal", "-shm", ".lock"):
        Path(f"{building}{suffix}").unlink(missing_ok=True)
    building.rename(path)
    log(f"api: built in {time.monotonic() - started:.0f} s")
    return path


def bench_lookup(lookups: int = 10_000, runs: int = 3, seconds: int = 8) -> dict:
    from app.crm import connect, customers

    source = big_crm()
    out: dict = {"customers": CUSTOMERS, "in_process": [], "http": {}}
    with tempfile.TemporaryDirectory(prefix="ornina-bench-lookup-") as scratch:
        path = Path(scratch) / "crm.sqlite3"
        shutil.copy(source, path)
        db = connect(path)
        rng = random.Random(7)
        for _ in range(runs):
            latencies = []
            for _ in range(lookups):
                # nine in ten are known callers; the rest are new numbers
                i = rng.randrange(CUSTOMERS * 10 // 9)
                started = time.perf_counter()
                customers.find_by_phone(db, phone=phone_of(i), region="SA")
                latencies.append((time.perf_counter() - started) * 1000)
            out["in_process"].append(summary(latencies, 3))
        db.close()
        out["in_process_p99_ms"] = summary([r["p99"] for r in out["in_process"]], 3)
        out["in_process_median_ms"] = summary([r["median"] for r in out["in_process"]], 3)
        with api_process(path) as (url, key):
            for c in (1, 16):
                load(url, "lookup", key=key, connections=c, seconds=1)
                samples = [
                    load(url, "lookup", key=key, connections=c, seconds=seconds)
                    for _ in range(runs)
                ]
                out["http"][str(c)] = {
                    "runs": samples,
                    "rps": summary([s["rps"] for s in samples]),
                    "p50_ms": summary([s["p50_ms"] for s in samples], 2),
                    "p99_ms": summary([s["p99_ms"] for s in samples], 2),
                }
    log(f"api: lookup in-process P99 {out['in_process_p99_ms']['median']} ms")
    return out


def run_api() -> dict:
    return {"calls_endpoint": bench_calls_endpoint(), "lookup": bench_lookup()}
