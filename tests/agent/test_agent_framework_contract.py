"""`CallServer` (agent/worker.py) overrides `AgentServer._get_effective_load` and
`_is_available` and reads `_worker_load` and `_reserved_slots`, private members of
livekit-agents. This test pins the framework behaviour the overrides rely on; it fails when an
upgrade changes it, so the overrides are revisited rather than silently dropped or broken."""

from __future__ import annotations

import inspect

from livekit.agents import AgentServer
from livekit.agents import worker as framework

from agent.worker import CallServer, build_server
from app.settings import Settings
from tests.agent.test_agent_worker import BASE


def test_the_framework_still_has_the_members_the_override_uses():
    assert framework.__name__ == "livekit.agents.worker"
    override = inspect.signature(AgentServer._get_effective_load)
    assert list(override.parameters) == ["self"]
    source = inspect.getsource(AgentServer)
    # availability answers and the status sent to LiveKit both go through the effective load
    assert source.count("self._get_effective_load()") >= 2
    assert "self._reserved_slots += 1" in source and "self._reserved_slots -= 1" in source
    assert "self._worker_load = await self._invoke_load_fnc()" in source


def test_the_framework_asks_is_available_once_per_job_request_before_reserving():
    """Upstream behaviour: `_answer_availability` answers "not available" when `_is_available()`
    is false, and LiveKit, with no other worker, drops that call for good. `CallServer` logs
    that refusal (the framework does not) and counts `_reserved_slots` in `calls_in_progress`,
    which the API's worker gate reads to refuse the caller before minting a token."""
    assert list(inspect.signature(AgentServer._is_available).parameters) == ["self"]
    source = inspect.getsource(AgentServer)
    assert source.count("self._is_available()") == 1
    answer = inspect.getsource(AgentServer._answer_availability)
    check = answer.index("if not self._is_available():")
    refuse = answer.index("availability_resp.availability.available = False", check)
    reserve = answer.index("self._reserved_slots += 1")
    assert check < refuse < reserve
    # the slot is released when the job request task ends: launched, refused or failed
    assert "self._reserved_slots -= 1" in answer


def test_a_burst_counts_each_accepted_call_as_one_slot():
    """With no call active yet the framework would count each reserved call as
    load_threshold / num_idle_processes (1.0 / 4 = 0.25 of a worker, so 4 per burst); ours
    counts each as one call of max_calls."""
    server = build_server(Settings(**BASE, agent_max_concurrent_calls=8))
    assert isinstance(server, CallServer)
    # what AgentServer.run() sets up before the first job request
    server._devmode, server._worker_load, server._reserved_slots = False, 0.0, 6
    assert server._get_effective_load() == 6 / 8
    assert server._is_available()  # the framework's own check, through our load
    assert server.calls_in_progress == 6  # what the status endpoint reports as `calls`
    server._reserved_slots = 8
    assert not server._is_available()


def test_the_framework_reserves_the_slot_before_answering_availability_returns():
    """`CallServer._answer_availability` reports the worker's status right after upstream's:
    that report counts the new call only if upstream reserved its slot before returning (the
    job request itself runs in a task), and the status it sends is `WS_FULL` once the
    effective load reaches the threshold."""
    parameters = list(inspect.signature(AgentServer._answer_availability).parameters)
    assert parameters[:2] == ["self", "msg"]
    answer = inspect.getsource(AgentServer._answer_availability)
    reserve = answer.index("self._reserved_slots += 1")
    task = answer.index("self._loop.create_task(_job_request_task()")
    assert reserve < task
    assert "await" not in answer[reserve:task].replace("await self._", "").split("async def")[0]
    status = inspect.getsource(AgentServer._update_worker_status)
    assert "effective_load = self._get_effective_load()" in status
    assert "agent.WorkerStatus.WS_FULL" in status
    assert list(inspect.signature(AgentServer._update_worker_status).parameters) == ["self"]
