"""Cold start: `start_all.sh` on an installed checkout -> `/readyz` green (CRM writable,
LiveKit up, the worker registered under its agent name).

start_all.sh runs in a scratch copy of the project (symlinks to the code, bin/ and
node_modules/; a `.venv` directory of symlinks with its own "installed" stamp, so the bootstrap
finds everything installed and never touches the real venv). The embedded LiveKit server keeps
its configured ports (7880/7881, UDP 50000-50100), which must be free; the API and the worker's
status endpoint get free ports through the environment.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import PROJECT_ROOT, log, summary
from tests.support import free_port

LINKED = ("app", "agent", "personas.py", "bin", "config", "node_modules")
COPIED = (
    "start_all.sh",
    "supervisord.conf",
    ".env.example",
    "requirements.txt",
    "requirements-dev.txt",
    "package.json",
    "package-lock.json",
)
LIVEKIT_PORTS = (7880, 7881)


def _port_busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def scratch_project() -> Path:
    root = Path(tempfile.mkdtemp(prefix="ornina-cold-"))
    for name in LINKED:
        if (PROJECT_ROOT / name).exists():
            (root / name).symlink_to(PROJECT_ROOT / name)
    for name in COPIED:
        if (PROJECT_ROOT / name).exists():
            shutil.copy(PROJECT_ROOT / name, root / name)
    shutil.copytree(PROJECT_ROOT / "scripts", root / "scripts")
    venv = root / ".venv"
    venv.mkdir()
    for entry in (PROJECT_ROOT / ".venv").iterdir():
        if not entry.name.startswith(".installed-"):
            (venv / entry.name).symlink_to(entry)
    # the stamp scripts/bootstrap.sh looks for: requirements unchanged since the last install
    digest = hashlib.sha256(
        b"".join(p.read_bytes() for p in sorted(root.glob("requirements*.txt")))
    ).hexdigest()[:16]
    (venv / f".installed-{digest}-0").touch()
    return root


def one_start() -> dict:
    root = scratch_project()
    api_port, health_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ELEVEN_", "LIVEKIT_", "VIRTUAL_ENV"))
    }
    env.update(
        ORNINA_ENV_FILE=str(root / ".env"),
        API_PORT=str(api_port),
        AGENT_HEALTH_URL=f"http://127.0.0.1:{health_port}",
        AGENT_NAME=f"ornina-cold-{secrets.token_hex(3)}",
        CRM_DB_PATH=str(root / "data" / "crm.sqlite3"),
    )
    url = f"http://127.0.0.1:{api_port}"
    marks: dict[str, float] = {}
    started = time.monotonic()
    proc = subprocess.Popen(
        ["bash", str(root / "start_all.sh")],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = started + 60
        while time.monotonic() < deadline and "ready" not in marks:
            try:
                response = httpx.get(f"{url}/readyz", timeout=1)
                marks.setdefault("api_answers", time.monotonic())
                body = response.json()
                checks = body.get("checks") or body.get("error", {}).get("checks") or {}
                if checks.get("livekit") == "ok":
                    marks.setdefault("livekit_ok", time.monotonic())
                if response.status_code == 200:
                    marks["ready"] = time.monotonic()
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
    return {key: round(value - started, 2) for key, value in marks.items()}


def run_cold_start(runs: int = 5) -> dict:
    busy = [port for port in LIVEKIT_PORTS if _port_busy(port)]
    if busy:
        return {"skipped": f"ports {busy} are in use: start_all.sh's embedded LiveKit needs them"}
    samples = []
    for i in range(runs):
        sample = one_start()
        samples.append(sample)
        log(f"cold start {i + 1}/{runs}: {sample}")
        time.sleep(2)
    ready = [s["ready"] for s in samples if "ready" in s]
    return {
        "runs": samples,
        "ready_s": summary(ready, 2),
        "api_answers_s": summary([s["api_answers"] for s in samples if "api_answers" in s], 2),
        "failed_runs": len(samples) - len(ready),
    }
