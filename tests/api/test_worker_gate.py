"""With no worker able to answer, the API refuses to start a call instead of handing out a
token for a room no agent will ever join."""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_error, running_api


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
