"""Shape (b) of README "Deployment shapes": a core container (API, CRM file, embedded LiveKit
server and a worker of its own) and a worker-only container pointing at it. The core's gate adds
its own worker's free slots to the remote one's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from tests.cluster.shapes import running_worker, service_key
from tests.e2e.bundle import Bundle, kept, start_bundle
from tests.e2e.caller import Caller
from tests.provider_double.client import ProviderDouble
from tests.support import wait_until


@pytest.fixture(scope="module")
def double() -> Iterator[ProviderDouble]:
    with ProviderDouble() as running:
        yield running


@pytest.fixture(scope="module")
def shape(double: ProviderDouble) -> Iterator[tuple[Bundle, Bundle]]:
    key = service_key()
    extra = {"WORKER_SERVICE_KEY": key, "WORKER_NAME": "core", "AGENT_MAX_CONCURRENT_CALLS": "1"}
    core = start_bundle(double.base_url, extra_env=extra)
    with contextlib.ExitStack() as stack:
        stack.enter_context(kept(core, "shape-b-core"))
        core.wait_ready(timeout=90)
        worker = stack.enter_context(
            running_worker(
                double.base_url,
                name="worker-2",
                livekit_url=core.livekit_url,
                core=core,
                agent_name=core.agent_name,
                key=key,
                max_calls=1,
            )
        )
        yield core, worker


def test_the_core_answers_for_its_own_worker_and_counts_the_remote_one(shape):
    core, _ = shape
    ready = core.wait_ready()
    assert ready["checks"] == {"crm": "ok", "agent_worker": "ok", "livekit": "ok"}
    wait_until(lambda: core.readyz().json()["remote_workers"] == 1, timeout=30, what="a report")

    def registered() -> bool:
        workers = core.api("GET", "/api/workers", operator=True).json()["workers"]
        return [(w["worker_name"], w["registered"]) for w in workers] == [("worker-2", True)]

    wait_until(registered, timeout=30, what="the remote worker registered")


async def test_two_slots_on_two_machines_take_two_calls_and_refuse_the_third(shape):
    core, _ = shape
    callers = [Caller(core.api_url), Caller(core.api_url)]
    try:
        for caller in callers:
            await caller.join(language="ar")
        for caller in callers:
            await caller.wait_for_agent(timeout=15)
            await caller.wait_for_speech(since=caller.joined_at, timeout=30)
        # both slots are taken: the third caller is told to retry, before any token
        third = core.api("POST", "/api/calls", json={})
        assert third.status_code == 503, third.text
        assert "all 2 call slots are in use" in third.json()["error"]["message"]
        workers = {
            wait_until(
                lambda c=caller: core.api(
                    "GET", f"/api/calls/{c.call['call_id']}", operator=True
                ).json()["worker"],
                timeout=15,
                what="the call's worker",
            )
            for caller in callers
        }
        assert workers == {"core", "worker-2"}
    finally:
        await asyncio.gather(*(caller.hang_up() for caller in callers))
