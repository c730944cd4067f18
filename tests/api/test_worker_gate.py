"""With no worker able to answer, the API refuses to start a call instead of handing out a
token for a room no agent will ever join: no worker, or a worker whose call slots are all in
use (it would refuse the job, and LiveKit does not offer it again)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.api.conftest import TEST_AGENT_NAME, RunningApi, assert_error, running_api


@pytest.fixture(scope="module")
def gated():
    # AGENT_HEALTH_URL points at a port nothing listens on: no worker
    with running_api({"CALLS_REQUIRE_WORKER": "true"}) as api:
        yield api


@pytest.mark.parametrize("path", ["/api/calls", "/api/token"])
def test_no_worker_means_503_with_retry_after_and_no_call_row(gated, path):
    anon = gated.client(key=None)
    response = anon.post(path, json={})
    error = assert_error(response, 503)
    assert "no agent can answer right now" in error["message"]
    assert "worker status endpoint not answering" in error["message"]
    assert int(response.headers["Retry-After"]) > 0
    assert gated.client().get("/api/calls").json() == []


@contextlib.contextmanager
def worker_status(**fields: object) -> Iterator[str]:
    """A registered worker's status endpoint (agent/status_server.py) answering `fields`."""
    status = {
        "agent_name": TEST_AGENT_NAME,
        "registered": True,
        "worker_id": "AW_test",
        "draining": False,
        **fields,
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = json.dumps(status).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def api_with_worker(**fields: object) -> Iterator[RunningApi]:
    with (
        worker_status(**fields) as url,
        running_api(
            {"CALLS_REQUIRE_WORKER": "true", "AGENT_NAME": TEST_AGENT_NAME, "AGENT_HEALTH_URL": url}
        ) as api,
    ):
        yield api


@pytest.mark.parametrize("path", ["/api/calls", "/api/token"])
def test_a_full_worker_means_503_before_any_token(path):
    with api_with_worker(active_jobs=3, calls=3, max_calls=3, full=True) as api:
        response = api.client(key=None).post(path, json={})
        error = assert_error(response, 503)
        assert error["message"] == (
            "no agent can answer right now (the agent is busy: all 3 call slots are in use); "
            "try again in a few seconds"
        )
        assert int(response.headers["Retry-After"]) > 0
        assert "token" not in response.text
        assert api.client().get("/api/calls").json() == []


def test_a_burst_gets_tokens_for_the_free_slots_only():
    """Six callers at once and two free slots: the worker's status does not count a call
    until its caller has joined, so the gate counts the calls it admitted itself."""
    with api_with_worker(active_jobs=1, calls=1, max_calls=3, full=False) as api:
        anon = api.client(key=None)
        with ThreadPoolExecutor(max_workers=6) as pool:
            responses = list(pool.map(lambda _: anon.post("/api/calls", json={}), range(6)))
        started = [r for r in responses if r.status_code == 201]
        refused = [r for r in responses if r.status_code != 201]
        assert len(started) == 2, [r.text for r in responses]
        assert all(r.json()["token"] for r in started)
        for response in refused:
            error = assert_error(response, 503)
            assert "all 3 call slots are in use" in error["message"]
        assert len(api.client().get("/api/calls").json()) == 2


def test_a_worker_with_free_slots_takes_calls():
    with api_with_worker(active_jobs=0, calls=0, max_calls=2, full=False) as api:
        anon = api.client(key=None)
        assert anon.post("/api/calls", json={}).status_code == 201
