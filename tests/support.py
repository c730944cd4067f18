"""Small helpers shared by every test layer: ports, polling, child processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(PROJECT_ROOT / ".venv" / "bin" / "python")

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll `predicate` until it returns something truthy, or fail after `timeout` seconds.

    Exceptions from the predicate count as "not yet"; the last one is named in the failure.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = predicate()
        except Exception as error:  # noqa: BLE001 - "not yet" until the deadline
            last_error = error
        else:
            if result:
                return result
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(
                f"timed out after {timeout} s waiting for {what or predicate}{detail}"
            )
        time.sleep(interval)


def clean_env(**overrides: str) -> dict[str, str]:
    """The current environment without provider keys or settings leaking in, plus overrides."""
    from app.settings import Settings

    settings_names = {name.upper() for name in Settings.model_fields}
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in settings_names and not key.startswith(("OPENAI_", "ELEVEN_"))
    }
    env.update(overrides)
    return env


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time; always reaps the child."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running_livekit() -> Iterator[str]:
    """The embedded LiveKit server (bin/livekit-server, config/livekit.yaml) on free ports;
    yields its ws:// URL (key pair devkey/secret)."""
    port, tcp_port = free_port(), free_port()
    udp_start = 60_000 + (port % 50) * 40
    with tempfile.NamedTemporaryFile(prefix="ornina-livekit-", suffix=".log") as log:
        process = subprocess.Popen(
            [
                str(PROJECT_ROOT / "bin" / "livekit-server"),
                "--config",
                str(PROJECT_ROOT / "config" / "livekit.yaml"),
                "--port",
                str(port),
                "--rtc.tcp_port",
                str(tcp_port),
                "--rtc.port_range_start",
                str(udp_start),
                "--rtc.port_range_end",
                str(udp_start + 39),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

        def up() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"livekit-server exited: {Path(log.name).read_text()}")
            return httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200

        try:
            wait_until(up, timeout=30, what="livekit-server")
            yield f"ws://127.0.0.1:{port}"
        finally:
            stop_process(process)
