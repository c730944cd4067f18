"""A real API process (`python -m app`) on a real SQLite file, for the API tests.

`running_api(env_overrides)` starts one and stops it; the session-scoped `api` fixture is the
shared one (agent name "ornina-test-agent", no LiveKit and no worker running).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlite_utils import Database

from app.crm import connect
from tests.support import PROJECT_ROOT, PYTHON, clean_env, free_port, stop_process, wait_until

TEST_AGENT_NAME = "ornina-test-agent"
# Written by the API when a handler raised (a 500) or the ASGI stack itself failed.
SERVER_ERROR_MARKERS = ("unhandled error", "Exception in ASGI application", "Traceback")


@dataclass
class RunningApi:
    base_url: str
    operator_key: str
    db_path: Path
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, *, key: str | None = "operator", **headers: str) -> httpx.Client:
        """An HTTP client; `key="operator"` sends the operator key, None sends none."""
        if key == "operator":
            key = self.operator_key
        if key is not None:
            headers.setdefault("X-API-Key", key)
        client = httpx.Client(base_url=self.base_url, headers=headers, timeout=15.0)
        self.clients.append(client)
        return client

    @property
    def service_key(self) -> str:
        """The worker service key (`X-Service-Key`) of the internal routes."""
        return self.env["WORKER_SERVICE_KEY"]

    @property
    def server_key(self) -> str:
        """The trusted backend's key (`X-Server-Key`)."""
        return self.env["TRUSTED_BACKEND_KEY"]

    def db(self) -> Database:
        """A second connection to the API's CRM file (as the agent worker would hold)."""
        return connect(self.db_path)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"API exited with {self.process.returncode}:\n{self.log()}")
        return httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200


def api_env(db_path: Path, port: int, **overrides: str) -> dict[str, str]:
    """A valid environment for `python -m app`: loopback LiveKit and worker URLs with nothing
    listening on them, a random operator key, no provider keys."""
    defaults = {
        "LIVEKIT_URL": f"ws://127.0.0.1:{free_port()}",
        "LIVEKIT_API_KEY": "devkey",
        "LIVEKIT_API_SECRET": "secret",
        "OPERATOR_API_KEY": secrets.token_urlsafe(24)[:32],
        "TRUSTED_BACKEND_KEY": secrets.token_urlsafe(24)[:32],
        "WORKER_SERVICE_KEY": secrets.token_urlsafe(32)[:40],
        "CRM_DB_PATH": str(db_path),
        "API_HOST": "127.0.0.1",
        "API_PORT": str(port),
        "AGENT_HEALTH_URL": f"http://127.0.0.1:{free_port()}",
        "CALLS_RATE_LIMIT_PER_MINUTE": "100000",
        # the API runs alone here: no worker to ask before a call starts
        "CALLS_REQUIRE_WORKER": "false",
        # A developer's own .env must not leak into the tests.
        "ORNINA_ENV_FILE": str(db_path.parent / "no.env"),
        "PYTHONUNBUFFERED": "1",
    }
    return clean_env(**{**defaults, **overrides})


@contextlib.contextmanager
def running_api(env_overrides: dict[str, str] | None = None) -> Iterator[RunningApi]:
    """Start `python -m app` on a fresh CRM file and a free port; stop it on exit."""
    with tempfile.TemporaryDirectory(prefix="ornina-api-") as tmp:
        env = api_env(Path(tmp) / "crm.sqlite3", free_port(), **(env_overrides or {}))
        port = int(env["API_PORT"])
        log_path = Path(tmp) / "api.log"
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(
                [PYTHON, "-m", "app"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        running = RunningApi(
            base_url=f"http://127.0.0.1:{port}",
            operator_key=env["OPERATOR_API_KEY"],
            db_path=Path(env["CRM_DB_PATH"]),
            log_path=log_path,
            env=env,
            process=process,
        )
        try:
            wait_until(running.healthy, timeout=30, what="the API's /healthz")
            yield running
        finally:
            for client in running.clients:
                client.close()
            stop_process(process)


@pytest.fixture(scope="session")
def api() -> Iterator[RunningApi]:
    with running_api({"AGENT_NAME": TEST_AGENT_NAME}) as running:
        yield running


@pytest.fixture(scope="session")
def client(api: RunningApi) -> httpx.Client:
    """Sends the operator key."""
    return api.client()


@pytest.fixture(scope="session")
def anon(api: RunningApi) -> httpx.Client:
    """Sends no key: a caller's browser."""
    return api.client(key=None)


@pytest.fixture(autouse=True)
def _no_server_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a test sends, the shared server must not answer with an unexpected 500."""
    if "api" not in request.fixturenames:
        yield
        return
    running: RunningApi = request.getfixturevalue("api")
    start = len(running.log())
    yield
    new = running.log()[start:]
    found = [marker for marker in SERVER_ERROR_MARKERS if marker in new]
    assert not found, f"the API logged a server error during this test:\n{new}"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    name: str

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")

    def url(self, value: str = "1") -> str:
        """The path with every `{param}` replaced by `value`."""
        return re.sub(r"\{[^}]+\}", value, self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


# Callers' routes: starting a call (ours and LiveKit's standard token endpoint), personas.
PUBLIC_API_ROUTES = {
    ("POST", "/api/calls"),
    ("POST", "/api/token"),
    ("GET", "/api/personas"),
    ("POST", "/api/session"),  # signing in
}

_ROUTES_SCRIPT = """
import json
from fastapi.routing import iter_route_contexts
from app.main import app
print(json.dumps([
    [method, route.path, route.name]
    for route in iter_route_contexts(app.routes)
    for method in sorted(route.methods or []) if method != "HEAD"
]))
"""


@pytest.fixture(scope="session")
def app_routes(api: RunningApi) -> list[Route]:
    """Every route of the real app object (read in a child process with the server's env,
    since importing `app.main` loads settings)."""
    result = subprocess.run(
        [PYTHON, "-c", _ROUTES_SCRIPT],
        cwd=PROJECT_ROOT,
        env=api.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    routes = [Route(*row) for row in json.loads(result.stdout)]
    assert routes, "the app has no routes?"
    return routes


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """The response is `status` with the JSON error body; returns the `error` object."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error.get("code"), str) and error["code"], body
    assert isinstance(error.get("message"), str) and error["message"], body
    if code is not None:
        assert error["code"] == code, body
    return error


_phone_numbers = itertools.count(1_000_000)


def unique_phone() -> str:
    """A Saudi mobile number in local format (050 xxx xxxx) not used before in this session."""
    return f"050{next(_phone_numbers):07d}"


def new_customer(client: httpx.Client, **fields: object) -> dict:
    body = {"name": "Test Customer", "phone": unique_phone(), **fields}
    response = client.post("/api/customers", json=body)
    assert response.status_code == 201, response.text
    return response.json()
