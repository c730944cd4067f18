"""Faults of the bundle's processes: supervisord brings each back and calls are answered again.

This module has a bundle of its own (the fixture is module-scoped): its tests kill processes.
"""

from __future__ import annotations

import os
import signal

import httpx

from tests.e2e.bundle import Bundle
from tests.e2e.caller import Caller
from tests.support import wait_until


def worker_status(bundle: Bundle) -> dict:
    return httpx.get(bundle.env["AGENT_HEALTH_URL"] + "/worker", timeout=2).json()


def restarted(bundle: Bundle, program: str, old_pid: int) -> int:
    """Wait until supervisord runs `program` again under a new pid."""
    return wait_until(
        lambda: (pid := bundle.pid(program)) not in (0, old_pid) and pid,
        timeout=60,
        interval=0.2,
        what=f"supervisord to restart {program}",
    )


async def answered(bundle: Bundle) -> None:
    """A new call gets the agent within 5 s and hears its greeting."""
    caller = Caller(bundle.api_url)
    await caller.join(language="ar")
    try:
        assert await caller.wait_for_agent(timeout=5.0) <= 5.0
        await caller.wait_for_speech(since=caller.joined_at, timeout=20)
    finally:
        await caller.hang_up()


async def test_killed_worker_is_restarted_re_registers_and_answers(bundle: Bundle):
    old_pid = bundle.pid("agent")
    old_worker = worker_status(bundle)["worker_id"]
    os.kill(old_pid, signal.SIGKILL)
    restarted(bundle, "agent", old_pid)
    bundle.wait_ready()
    assert worker_status(bundle)["worker_id"] not in (None, old_worker)
    await answered(bundle)


async def test_killed_api_is_restarted_and_ready_again(bundle: Bundle):
    old_pid = bundle.pid("api")
    os.kill(old_pid, signal.SIGKILL)
    restarted(bundle, "api", old_pid)
    assert bundle.wait_ready()["status"] == "ready"
    await answered(bundle)


async def test_restarted_livekit_server_gets_the_worker_back_and_calls_answered(bundle: Bundle):
    old_pid = bundle.pid("livekit")
    old_worker = worker_status(bundle)["worker_id"]
    bundle.supervisorctl("restart", "livekit")
    restarted(bundle, "livekit", old_pid)
    # the worker registers anew with the new server: a new worker id, then ready
    wait_until(
        lambda: worker_status(bundle)["worker_id"] not in (None, old_worker),
        timeout=60,
        interval=0.2,
        what="the worker to re-register",
    )
    bundle.wait_ready()
    await answered(bundle)
