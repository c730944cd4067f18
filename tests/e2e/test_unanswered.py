"""A caller whose agent never came is not left waiting: the API dispatches the agent again
(app/lost_calls.py). Here LiveKit drops the first dispatch because no worker is registered
when the caller joins (it restarts); the token was handed out with the worker gate off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.bundle import Bundle, running_bundle
from tests.e2e.caller import Caller
from tests.provider_double.client import ProviderDouble
from tests.support import wait_until


@pytest.fixture(scope="module")
def bundle(double: ProviderDouble, request: pytest.FixtureRequest) -> Iterator[Bundle]:
    env = {"CALLS_REQUIRE_WORKER": "false"}
    with running_bundle(double.base_url, Path(request.node.name).stem, extra_env=env) as running:
        yield running


def registered(bundle: Bundle) -> bool:
    try:
        status = httpx.get(bundle.env["AGENT_HEALTH_URL"] + "/worker", timeout=2).json()
    except httpx.HTTPError:
        return False
    return status["registered"]


async def test_a_caller_who_joined_while_no_worker_was_registered_gets_the_agent(bundle: Bundle):
    bundle.supervisorctl("stop", "agent")
    assert not registered(bundle)
    caller = Caller(bundle.api_url)
    await caller.join(language="en")
    try:
        # LiveKit offered the job to no one; the worker comes back ...
        bundle.supervisorctl("start", "agent")
        wait_until(lambda: registered(bundle), timeout=60, interval=0.2, what="the worker")
        # ... and the agent is dispatched again into the waiting caller's room
        await caller.wait_for_agent(timeout=30)
        await caller.wait_for_speech(since=caller.joined_at, timeout=30)
    finally:
        await caller.hang_up()
    call = bundle.api("GET", f"/api/calls/{caller.call['call_id']}", operator=True).json()
    kinds = [event["kind"] for event in call["events"]]
    assert kinds.count("redispatched") == 1, kinds
    assert "agent_joined" in kinds
    assert "dispatched again" in bundle.log("api")
