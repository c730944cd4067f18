"""Stopping the worker during a call: it drains. No new call is taken, the call in progress runs
to its end and is closed in the CRM, and only then does the worker process exit (supervisord
then starts a fresh one). The module has a bundle of its own: it stops the worker.
"""

from __future__ import annotations

import configparser
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.worker import DRAIN_TIMEOUT
from app.crm import calls as crm_calls
from app.crm import connect
from app.livekit_tokens import caller_token, job_metadata, new_room_name
from app.settings import Settings
from tests.e2e.bundle import Bundle, running_bundle
from tests.e2e.caller import Caller
from tests.provider_double.client import ProviderDouble
from tests.reliability.e2e_flow import (
    agent_turns,
    call_record,
    ended_call,
    greeted_caller,
    speak,
)
from tests.support import PROJECT_ROOT, wait_until

QUESTION = "Hello, I have one more question for you."
REPLY = "Of course, I am still here for you."
NO_AGENT_WINDOW = 8.0
"""How long the second caller waits for an agent that must not come (an agent joins within
5 s when the worker takes calls)."""


def token_past_the_api(bundle: Bundle) -> dict:
    """A call row and a dispatching token made with the API's own code, without its gate."""
    settings = Settings(
        _env_file=None,
        livekit_url=bundle.livekit_url,
        livekit_api_key="devkey",
        livekit_api_secret="secret",
        operator_api_key=bundle.operator_key,
        agent_name=bundle.agent_name,
        crm_db_path=bundle.env["CRM_DB_PATH"],
    )
    db = connect(settings.crm_db_path)
    try:
        room = new_room_name()
        call = crm_calls.create_call(db, room=room, language="en", department="reception")
    finally:
        db.close()
    metadata = job_metadata(
        call_id=call["id"], department="reception", language="en", name=None, phone=None
    )
    token = caller_token(settings, room=room, metadata=metadata, display_name=None)
    return {"call_id": call["id"], "room": room, "livekit_url": bundle.livekit_url, "token": token}


def supervisord_programs() -> dict[str, configparser.SectionProxy]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(PROJECT_ROOT / "supervisord.conf")
    return {
        name.removeprefix("program:"): config[name]
        for name in config.sections()
        if name.startswith("program:")
    }


def test_supervisord_waits_longer_than_the_worker_drains():
    programs = supervisord_programs()
    agent = programs["agent"]
    assert agent["stopsignal"] == "TERM"
    assert int(agent["stopwaitsecs"]) > DRAIN_TIMEOUT
    # stopped in reverse priority: the API first (no new calls), the worker drains, then
    # the LiveKit server its calls run on
    priority = {name: int(program["priority"]) for name, program in programs.items()}
    assert priority["api"] > priority["agent"] > priority["livekit"]


@pytest.fixture(scope="module")
def own_bundle(double: ProviderDouble, request: pytest.FixtureRequest) -> Iterator[Bundle]:
    """A bundle for this module alone: its worker is stopped."""
    with running_bundle(double.base_url, Path(request.node.name).stem) as running:
        yield running


def worker_status(bundle: Bundle) -> dict:
    return httpx.get(bundle.env["AGENT_HEALTH_URL"] + "/worker", timeout=2).json()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_like_supervisord(pid: int) -> None:
    """SIGTERM to the worker's whole process group, as supervisord's `stopasgroup` sends it
    (the job processes get it too), or to the worker alone if it leads no group of its own."""
    if os.getpgid(pid) == pid and pid != os.getpgid(0):
        os.killpg(pid, signal.SIGTERM)
    else:
        os.kill(pid, signal.SIGTERM)


async def test_sigterm_drains_the_worker_the_call_runs_to_its_end_then_the_worker_exits(
    own_bundle: Bundle, double: ProviderDouble
):
    bundle = own_bundle
    await double.ascript([{"match": {"last_role": "user"}, "reply": {"text": REPLY}}])
    first = await greeted_caller(bundle, language="en", phone="0551112233")
    second: Caller | None = None
    first_id = first.call["call_id"]
    old_pid = bundle.pid("agent")
    try:
        assert old_pid and worker_status(bundle)["active_jobs"] == 1
        stop_like_supervisord(old_pid)

        wait_until(lambda: worker_status(bundle)["draining"], timeout=10, what="draining")
        ready = bundle.readyz()
        assert ready.status_code == 503
        assert "draining" in ready.json()["error"]["checks"]["agent_worker"]

        # the API refuses a new call rather than hand out a room no agent will join
        refused = bundle.api("POST", "/api/calls", json={"language": "en"})
        assert refused.status_code == 503, refused.text
        assert "draining" in refused.json()["error"]["message"]
        assert int(refused.headers["Retry-After"]) > 0

        # and the worker itself takes no new job: a token minted past the API gets no agent
        second = Caller(bundle.api_url)
        await second.join_call(token_past_the_api(bundle))
        with pytest.raises(TimeoutError):
            await second.wait_for_agent(timeout=NO_AGENT_WINDOW)
        assert call_record(bundle, second.call["call_id"])["status"] == "created"

        # the call in progress goes on as before
        spoke_until = await speak(first, double, QUESTION, "en")
        await first.wait_for_speech(since=spoke_until, timeout=30)
        await first.wait_for_quiet(seconds=1.0)
        assert alive(old_pid) and bundle.pid("agent") == old_pid, "exited with a call up"
        assert worker_status(bundle)["active_jobs"] == 1
    finally:
        await first.hang_up()
        if second is not None:
            await second.hang_up()

    call = ended_call(bundle, first_id)
    assert call["outcome"] == "caller_hung_up"
    assert REPLY in agent_turns(call)
    # once its last call is closed the old worker exits, and supervisord starts a new one
    wait_until(lambda: not alive(old_pid), timeout=60, interval=0.2, what="the old worker to exit")
    assert call_record(bundle, first_id)["status"] == "ended"
    assert "exited: agent (exit status 0" in bundle.log("supervisord")
    wait_until(
        lambda: bundle.pid("agent") not in (0, old_pid),
        timeout=60,
        interval=0.2,
        what="supervisord to restart the worker",
    )
    bundle.wait_ready()
