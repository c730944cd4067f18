"""Start and steer the provider double from tests.

    with ProviderDouble() as double:            # a real process on a free port
        llm = openai.LLM(model="gpt-4.1-mini", base_url=double.base_url, api_key="test")
        double.script([{"match": {"last_role": "user"}, "reply": {"text": "Hello!"}}])
        double.utterances([{"text": "مرحبا", "language": "ar"}])
        double.delays(llm_first_token_ms=300)
        double.faults({"tts": {"status": 500, "times": 1}})
        log = double.wait_until(lambda log: len(log["chat"]) >= 1)

Every control method has an ``a``-prefixed coroutine twin (``await double.ascript(...)``) for
use inside a running event loop; the sync ones are fine there too (the double is another process
and answers in milliseconds), but the async ones keep the loop free.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]

Log = dict[str, Any]


class ProviderDoubleError(RuntimeError):
    pass


class ProviderDouble:
    api_key = "test"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        python: str | None = None,
        silence_rms: float | None = None,
        access_log: bool = False,
        startup_timeout: float = 20.0,
        log_path: str | os.PathLike[str] | None = None,
        url: str | None = None,
    ) -> None:
        """`url` attaches to a double that is already running instead of starting one.

        The double's stderr goes to `log_path`, else to $PROVIDER_DOUBLE_LOG (kept, appended),
        else to a temporary file removed by stop().
        """
        log_path = log_path or os.environ.get("PROVIDER_DOUBLE_LOG") or None
        self.host = host
        self.port = port
        self._python = python or sys.executable
        self._silence_rms = silence_rms
        self._access_log = access_log
        self._startup_timeout = startup_timeout
        self._given_log_path = log_path
        self.log_path: Path | None = Path(log_path) if log_path else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_file: Any = None
        self._http: httpx.Client | None = None
        self._attached_url = url.rstrip("/") if url else None
        # root URL, e.g. http://127.0.0.1:43123 (control API under /_double/)
        self.url = ""
        if self._attached_url:
            self.url = self._attached_url
            self._http = httpx.Client(base_url=self.url, timeout=10.0)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """OpenAI base URL for the plugins: http://127.0.0.1:<port>/v1."""
        return f"{self.url}/v1"

    def env(self) -> dict[str, str]:
        """Environment that points the openai plugins (and SDK) of a child process here."""
        return {"OPENAI_BASE_URL": self.base_url, "OPENAI_API_KEY": self.api_key}

    def start(self) -> ProviderDouble:
        if self._attached_url or self._proc is not None:
            return self
        cmd = [self._python, "-m", "tests.provider_double", "--host", self.host]
        cmd += ["--port", str(self.port)]
        if self._silence_rms is not None:
            cmd += ["--silence-rms", str(self._silence_rms)]
        if self._access_log:
            cmd.append("--access-log")
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="provider_double.", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        self._stderr_file = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        env["PYTHONUNBUFFERED"] = "1"
        self._proc = subprocess.Popen(
            cmd,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            bufsize=0,
        )
        atexit.register(self.stop)
        try:
            self.port = self._read_listening_line()
        except BaseException:
            self.stop()
            raise
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"
        self._http = httpx.Client(base_url=self.url, timeout=10.0)
        return self

    def _read_listening_line(self) -> int:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + self._startup_timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            while b"\n" not in buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ProviderDoubleError(
                        f"provider double did not print LISTENING within "
                        f"{self._startup_timeout:.0f}s; {self._stderr_tail()}"
                    )
                if sel.select(timeout=remaining):
                    data = os.read(self._proc.stdout.fileno(), 4096)
                    if not data:  # EOF: the process died
                        self._proc.wait(timeout=5)
                        raise ProviderDoubleError(
                            f"provider double exited with code {self._proc.returncode} "
                            f"before LISTENING; {self._stderr_tail()}"
                        )
                    buf += data
        line = buf.split(b"\n", 1)[0].decode(errors="replace").strip()
        parts = line.split()
        if len(parts) != 2 or parts[0] != "LISTENING" or not parts[1].isdigit():
            raise ProviderDoubleError(f"unexpected first line from provider double: {line!r}")
        return int(parts[1])

    def _stderr_tail(self, limit: int = 4000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "no stderr"
        text = self.log_path.read_text(errors="replace")
        return f"stderr ({self.log_path}):\n{text[-limit:]}"

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        proc, self._proc = self._proc, None
        if proc is not None:
            atexit.unregister(self.stop)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
            if self._given_log_path is None and self.log_path is not None:
                self.log_path.unlink(missing_ok=True)
                self.log_path = None

    @property
    def running(self) -> bool:
        if self._attached_url:
            return True
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> ProviderDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- sync control API ---------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        if self._http is None:
            raise ProviderDoubleError("provider double is not started")
        resp = self._http.request(method, path, json=body)
        if resp.status_code >= 400:
            raise ProviderDoubleError(f"{method} {path} -> {resp.status_code}: {resp.text}")
        return resp.json()

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/_double/health")

    def reset(self) -> None:
        """Clear script, utterance queue, log, delays and faults (and config overrides)."""
        self._request("POST", "/_double/reset")

    def script(self, rules: list[dict[str, Any]]) -> None:
        """Replace the chat rules.

        Rule: {"match": {...}, "reply": {"text": ..., "tool_calls": [...]}, "times": n}.
        """
        self._request("POST", "/_double/script", {"rules": rules})

    def utterances(self, items: list[dict[str, Any] | str]) -> int:
        """Append utterances ({"text", "language"} or plain strings); returns the queue length."""
        return self._request("POST", "/_double/utterances", {"utterances": items})["pending"]

    def delays(self, delays: dict[str, float | None] | None = None, **kw: float | None) -> None:
        """Set delays in ms (None clears one):
        stt_ms, llm_first_token_ms, llm_chunk_ms, tts_first_byte_ms."""
        self._request("POST", "/_double/delays", {**(delays or {}), **kw})

    def faults(self, faults: dict[str, Any] | None = None, **kw: Any) -> None:
        """Set faults per endpoint (llm/stt/tts): {"status": 500, "times": 2} or {"hang": True};
        None clears one endpoint's fault."""
        self._request("POST", "/_double/faults", {**(faults or {}), **kw})

    def config(self, **kw: Any) -> dict[str, Any]:
        """silence_rms (int16 RMS threshold) and default_reply (text when no rule matches)."""
        return self._request("POST", "/_double/config", kw)

    def log(self) -> Log:
        """{"chat": [...], "transcriptions": [...], "speech": [...], "pending_utterances", ...}"""
        return self._request("GET", "/_double/log")

    def wait_until(
        self, predicate: Callable[[Log], Any], timeout: float = 10.0, interval: float = 0.05
    ) -> Log:
        """Poll the log until predicate(log) is truthy; returns that log or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if predicate(log):
                return log
            if time.monotonic() >= deadline:
                raise TimeoutError(f"provider double log condition not met within {timeout}s")
            time.sleep(interval)

    # -- async twins ----------------------------------------------------------------------------

    async def _arequest(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url, timeout=10.0) as client:
            resp = await client.request(method, path, json=body)
        if resp.status_code >= 400:
            raise ProviderDoubleError(f"{method} {path} -> {resp.status_code}: {resp.text}")
        return resp.json()

    async def areset(self) -> None:
        await self._arequest("POST", "/_double/reset")

    async def ascript(self, rules: list[dict[str, Any]]) -> None:
        await self._arequest("POST", "/_double/script", {"rules": rules})

    async def autterances(self, items: list[dict[str, Any] | str]) -> int:
        return (await self._arequest("POST", "/_double/utterances", {"utterances": items}))[
            "pending"
        ]

    async def adelays(self, delays: dict[str, float | None] | None = None, **kw: Any) -> None:
        await self._arequest("POST", "/_double/delays", {**(delays or {}), **kw})

    async def afaults(self, faults: dict[str, Any] | None = None, **kw: Any) -> None:
        await self._arequest("POST", "/_double/faults", {**(faults or {}), **kw})

    async def aconfig(self, **kw: Any) -> dict[str, Any]:
        return await self._arequest("POST", "/_double/config", kw)

    async def alog(self) -> Log:
        return await self._arequest("GET", "/_double/log")

    async def await_until(
        self, predicate: Callable[[Log], Any], timeout: float = 10.0, interval: float = 0.05
    ) -> Log:
        deadline = time.monotonic() + timeout
        while True:
            log = await self.alog()
            if predicate(log):
                return log
            if time.monotonic() >= deadline:
                raise TimeoutError(f"provider double log condition not met within {timeout}s")
            await asyncio.sleep(interval)
