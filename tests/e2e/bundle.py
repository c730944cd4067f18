"""The whole call center as a user runs it: the real supervisord.conf starting the embedded
LiveKit server, the API and the agent worker, with the provider double standing in for the
cloud providers.

The bundle runs in a scratch directory that mirrors the project (symlinks to the code, the
venv and bin/, a copy of supervisord.conf), so its logs, socket and CRM file stay out of the
working tree and every port is a free one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import PROJECT_ROOT, free_port, stop_process, wait_until

LINKED = (".venv", "bin", "config", "scripts", "app", "agent", "personas.py")


@dataclass
class Bundle:
    root: Path
    env: dict[str, str]
    api_url: str
    livekit_url: str
    operator_key: str
    agent_name: str
    process: subprocess.Popen | None = None
    keep: list[Path] = field(default_factory=list)

    # -- supervisord -----------------------------------------------------------------------
    def supervisorctl(self, *args: str) -> str:
        result = subprocess.run(
            [
                str(self.root / ".venv/bin/supervisorctl"),
                "-c",
                str(self.root / "supervisord.conf"),
                *args,
            ],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=30,
        )
        return result.stdout

    def pid(self, program: str) -> int:
        """The pid of a RUNNING program, 0 when it is not running."""
        out = self.supervisorctl("pid", program).strip()
        return int(out) if out.isdigit() else 0

    def status(self) -> dict[str, str]:
        rows = [line.split() for line in self.supervisorctl("status").splitlines() if line.strip()]
        return {row[0]: row[1] for row in rows if len(row) >= 2}

    # -- HTTP ------------------------------------------------------------------------------
    def api(self, method: str, path: str, *, operator: bool = False, **kwargs) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if operator:
            headers["X-API-Key"] = self.operator_key
        return httpx.request(method, self.api_url + path, headers=headers, timeout=10, **kwargs)

    def readyz(self) -> httpx.Response:
        return self.api("GET", "/readyz")

    def wait_ready(self, timeout: float = 90.0) -> dict:
        def ready() -> dict | None:
            response = self.readyz()
            return response.json() if response.status_code == 200 else None

        return wait_until(ready, timeout=timeout, interval=0.2, what="/readyz to turn green")

    def log(self, program: str) -> str:
        path = self.root / "logs" / f"{program}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=60)
            self.process = None


def start_bundle(
    provider_base_url: str | None,
    *,
    extra_env: dict[str, str] | None = None,
    prefix: tuple[str, ...] = (),
    phone: bool = False,
) -> Bundle:
    """The bundle on free ports; `provider_base_url=None` runs it with no provider configured.
    `prefix` runs supervisord through another command (`ip netns exec NAME`). `phone` turns
    the phone line on: its own Redis, the SIP service and the trunk provisioning."""
    root = Path(tempfile.mkdtemp(prefix="ornina-bundle-"))
    for name in LINKED:
        (root / name).symlink_to(PROJECT_ROOT / name)
    shutil.copy(PROJECT_ROOT / "supervisord.conf", root / "supervisord.conf")
    (root / "logs").mkdir()
    (root / "data").mkdir()

    livekit_port, rtc_tcp_port = free_port(), free_port()
    udp_start = 50000 + (livekit_port % 100) * 100
    api_port, health_port = free_port(), free_port()
    operator_key = secrets.token_urlsafe(24)
    agent_name = f"ornina-e2e-{secrets.token_hex(3)}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "ELEVEN_", "LIVEKIT_", "PUBLIC_", "SIP_", "REDIS_"))
    }
    env.update(
        {
            "ORNINA_ENV_FILE": os.devnull,
            "RUN_API": "true",
            "RUN_WORKER": "true",
            "LIVEKIT_EMBEDDED": "true",
            "PUBLIC_MODE": "false",
            "PHONE_LINE": "true" if phone else "false",
            "REDIS_PORT": str(free_port()),
            "REDIS_PASSWORD": secrets.token_hex(16),
            "SIP_PORT": str(free_port()),
            "SIP_RTP_PORT_START": str(udp_start - 20000),
            "SIP_RTP_PORT_END": str(udp_start - 20000 + 99),
            "LIVEKIT_PORT": str(livekit_port),
            "LIVEKIT_RTC_TCP_PORT": str(rtc_tcp_port),
            "LIVEKIT_RTC_PORT_RANGE_START": str(udp_start),
            "LIVEKIT_RTC_PORT_RANGE_END": str(udp_start + 99),
            "LIVEKIT_URL": f"ws://127.0.0.1:{livekit_port}",
            "LIVEKIT_API_KEY": "devkey",
            "LIVEKIT_API_SECRET": "secret",
            "AGENT_NAME": agent_name,
            "AGENT_HEALTH_URL": f"http://127.0.0.1:{health_port}",
            "API_PORT": str(api_port),
            "CRM_DB_PATH": str(root / "data" / "crm.sqlite3"),
            "OPERATOR_API_KEY": operator_key,
            "CALLS_RATE_LIMIT_PER_MINUTE": "1000",
            # the default follows the cores (4 each); the suites place up to 5 calls at once
            "AGENT_MAX_CONCURRENT_CALLS": "8",
            "OPENAI_BASE_URL": provider_base_url,
            "OPENAI_API_KEY": "test",
            "STT_MODEL": "whisper-1",
            "TTS_MODEL": "tts-1",
            "LLM_MODEL": "gpt-4.1-mini",
            **(extra_env or {}),
        }
    )
    if provider_base_url is None:
        for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
            env.pop(name)
    bundle = Bundle(
        root=root,
        env=env,
        api_url=f"http://127.0.0.1:{api_port}",
        livekit_url=env["LIVEKIT_URL"],
        operator_key=operator_key,
        agent_name=agent_name,
    )
    bundle.process = subprocess.Popen(
        [*prefix, str(root / ".venv/bin/supervisord"), "-c", str(root / "supervisord.conf")],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return bundle


ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "logs"


@contextlib.contextmanager
def running_bundle(
    provider_base_url: str | None,
    name: str,
    *,
    extra_env: dict[str, str] | None = None,
    ready_timeout: float = 120.0,
    phone: bool = False,
) -> Iterator[Bundle]:
    """A ready bundle; on exit it is stopped, its logs are kept in test-artifacts/logs as
    `<name>-<program>.log` (a failure is read from them; they hold no secrets) and its
    scratch directory is removed."""
    bundle = start_bundle(provider_base_url, extra_env=extra_env, phone=phone)
    with kept(bundle, name):
        bundle.wait_ready(timeout=ready_timeout)
        yield bundle


@contextlib.contextmanager
def kept(bundle: Bundle, name: str) -> Iterator[Bundle]:
    """A started bundle, stopped on exit with its logs kept in test-artifacts/logs as
    `<name>-<program>.log` and its scratch directory removed."""
    try:
        yield bundle
    finally:
        bundle.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for log in (bundle.root / "logs").glob("*.log"):
            shutil.copy(log, ARTIFACTS / f"{name}-{log.name}")
        shutil.rmtree(bundle.root, ignore_errors=True)
