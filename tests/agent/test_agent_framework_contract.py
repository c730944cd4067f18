"""`CallServer` (agent/worker.py) overrides `AgentServer._get_effective_load` and reads
`_worker_load` and `_reserved_slots`, private members of livekit-agents. This test pins the
framework behaviour the override relies on; it fails when an upgrade changes it, so the
override is revisited rather than silently dropped or broken."""

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
    server._reserved_slots = 8
    assert not server._is_available()
