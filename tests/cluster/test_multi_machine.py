"""Workers on other machines (README, "Deployment shapes"), on loopback with real processes:
two LiveKit nodes sharing one Redis, a core container with the API and the CRM file (no worker
of its own), and two worker-only containers without the CRM file, each connected to a different
node and reaching the CRM through the core's API with the service key.

The tests run in order on one cluster and fault it as they go: an API restart, `kill -9` of a
whole worker container, then one LiveKit node stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from livekit import rtc

from tests.cluster.livekit_cluster import Cluster, livekit_cluster
from tests.cluster.shapes import (
    NO_CRM_FILE,
    files_in_data,
    kill_container,
    running_core,
    running_worker,
    service_key,
    worker_readyz,
)
from tests.e2e.bundle import Bundle
from tests.e2e.caller import Caller
from tests.provider_double.client import ProviderDouble
from tests.support import wait_until

PER_WORKER = 2
QUESTION = "I would like to know your opening hours."
REPLY = "We are open every day from nine to five."
WORKERS = ("worker-a", "worker-b")


@pytest.fixture(scope="module")
def double() -> Iterator[ProviderDouble]:
    with ProviderDouble() as running:
        running.config(default_reply=REPLY)
        yield running


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with livekit_cluster(nodes=2, name="workers") as running:
        yield running


@pytest.fixture(scope="module")
def shape(double: ProviderDouble, cluster: Cluster) -> Iterator[dict]:
    agent_name = f"ornina-cluster-{secrets.token_hex(3)}"
    key = service_key()
    with contextlib.ExitStack() as stack:
        core = stack.enter_context(
            running_core(
                double.base_url,
                livekit_url=cluster.node(1).url,
                agent_name=agent_name,
                key=key,
                LOST_CALLS_CHECK_SECONDS="2",
            )
        )
        workers = {
            name: stack.enter_context(
                running_worker(
                    double.base_url,
                    name=name,
                    livekit_url=node.url,
                    core=core,
                    agent_name=agent_name,
                    key=key,
                    max_calls=PER_WORKER,
                )
            )
            for name, node in zip(WORKERS, cluster.nodes, strict=True)
        }
        yield {"core": core, "workers": workers, "cluster": cluster}


def call_record(core: Bundle, call_id: int) -> dict:
    return core.api("GET", f"/api/calls/{call_id}", operator=True).json()


def reported_workers(core: Bundle) -> dict[str, dict]:
    workers = core.api("GET", "/api/workers", operator=True).json()["workers"]
    return {w["worker_name"]: w for w in workers}


async def start_call(core: Bundle, language: str) -> dict:
    """A call start, tried again as a caller's page would while every slot is taken (the
    previous test's calls may still be closing)."""
    deadline = asyncio.get_running_loop().time() + 30
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            response = await client.post(f"{core.api_url}/api/calls", json={"language": language})
            if response.status_code != 503:
                assert response.status_code == 201, response.text
                return response.json()
            assert asyncio.get_running_loop().time() < deadline, response.text
            await asyncio.sleep(0.5)


async def place_call(core: Bundle, node_url: str, language: str = "en") -> Caller:
    """A caller who starts a call through the API and joins through the LiveKit node
    `node_url`, and hears the greeting."""
    caller = Caller(core.api_url)
    call = await start_call(core, language)
    await caller.join_call({**call, "livekit_url": node_url})
    await caller.wait_for_agent(timeout=15)
    await caller.wait_for_speech(since=caller.joined_at, timeout=30)
    await caller.wait_for_quiet()
    return caller


async def ask(caller: Caller, double: ProviderDouble) -> None:
    """One turn: the caller asks, the agent's reply is heard."""
    await double.autterances([{"text": QUESTION, "language": "en"}])
    ended = await caller.say(QUESTION, "en")
    await caller.wait_for_speech(since=ended, timeout=30)
    await caller.wait_for_quiet()


def turns(core: Bundle, call_id: int) -> list[tuple[str, str]]:
    return [(t["role"], t["text"]) for t in call_record(core, call_id)["transcript"]]


def wait_for_turns(core: Bundle, call_id: int, count: int) -> list[tuple[str, str]]:
    return wait_until(
        lambda: found if len(found := turns(core, call_id)) >= count else None,
        timeout=30,
        interval=0.2,
        what=f"{count} turns of call {call_id} in the CRM",
    )


def test_each_container_says_what_it_is_responsible_for(shape: dict):
    core, workers = shape["core"], shape["workers"]
    ready = core.wait_ready()
    assert ready["checks"] == {"crm": "ok", "livekit": "ok"}  # no worker of its own
    assert core.status()["agent"] == "STOPPED" and core.status()["api"] == "RUNNING"
    wait_until(
        lambda: [w["registered"] for w in reported_workers(core).values()] == [True, True],
        timeout=30,
        what="two registered workers reporting",
    )
    assert core.readyz().json()["remote_workers"] == 2
    reports = reported_workers(core)
    for (name, bundle), node in zip(workers.items(), shape["cluster"].nodes, strict=True):
        body = worker_readyz(bundle).json()
        assert body["status"] == "ready"
        assert body["checks"] == {"agent_worker": "ok", "crm": "ok"}
        assert body["max_calls"] == PER_WORKER
        assert bundle.status()["api"] == "STOPPED" and bundle.status()["agent"] == "RUNNING"
        assert reports[name]["livekit_url"] == node.url
        # no CRM file: none named, none made
        assert not Path(NO_CRM_FILE).parent.exists()
        assert files_in_data(bundle) == []
        assert "CRM through the API" in bundle.log("agent")


async def test_calls_through_both_nodes_are_answered_and_recorded_with_their_worker(
    shape: dict, double: ProviderDouble
):
    """Four callers at once, two through each node; two slots per worker, so both work."""
    core, nodes = shape["core"], shape["cluster"].nodes
    callers = [await place_call(core, nodes[i % 2].url) for i in range(4)]
    try:
        for caller in callers:
            await ask(caller, double)
    finally:
        for caller in callers:
            await caller.hang_up()
    handled = set()
    for caller in callers:
        call_id = caller.call["call_id"]
        found = wait_for_turns(core, call_id, 3)
        assert ("caller", QUESTION) in found
        assert ("agent", REPLY) in found
        record = wait_until(
            lambda c=call_id: (r := call_record(core, c))["status"] == "ended" and r,
            timeout=30,
            what=f"call {call_id} to end",
        )
        assert record["worker"] in WORKERS
        assert record["outcome"] == "caller_hung_up"
        assert any(e["kind"] == "agent_joined" for e in record["events"])
        handled.add(record["worker"])
    assert handled == set(WORKERS)


async def test_a_burst_filling_every_slot_is_answered_in_full(shape: dict, double: ProviderDouble):
    """Four callers at the same moment, through both nodes, for the four slots of the two
    workers: each is greeted and answered. LiveKit may offer two of them to one worker's node
    at once and drop the one that worker refuses; the API then dispatches the agent again."""
    core, nodes = shape["core"], shape["cluster"].nodes
    results = await asyncio.gather(
        *(place_call(core, nodes[i % 2].url) for i in range(2 * PER_WORKER)),
        return_exceptions=True,
    )
    callers = [r for r in results if isinstance(r, Caller)]
    try:
        assert len(callers) == len(results), [r for r in results if not isinstance(r, Caller)]
        for caller in callers:
            await ask(caller, double)
    finally:
        await asyncio.gather(*(caller.hang_up() for caller in callers), return_exceptions=True)
    records = [
        wait_until(
            lambda c=caller.call["call_id"]: (r := call_record(core, c))["status"] == "ended" and r,
            timeout=30,
            what="the call to end",
        )
        for caller in callers
    ]
    assert sorted(r["worker"] for r in records) == sorted(WORKERS * PER_WORKER)


async def test_the_api_restarting_loses_no_write(shape: dict, double: ProviderDouble):
    core, nodes = shape["core"], shape["cluster"].nodes
    callers = [await place_call(core, node.url) for node in nodes]
    try:
        for caller in callers:
            await ask(caller, double)
        # the API stops: the calls go on, their workers keep the writes and retry
        core.supervisorctl("stop", "api")
        with pytest.raises(httpx.TransportError):
            core.readyz()
        for caller in callers:
            await ask(caller, double)
        core.supervisorctl("start", "api")
        core.wait_ready()
        # the restarted API knows the workers again from their next report
        wait_until(lambda: len(reported_workers(core)) == 2, timeout=30, what="worker reports")
        for caller in callers:
            await ask(caller, double)
    finally:
        for caller in callers:
            await caller.hang_up()
    for caller in callers:
        found = wait_for_turns(core, caller.call["call_id"], 7)
        # greeting, then three questions and three replies: each once, in order
        assert found[1:] == [("caller", QUESTION), ("agent", REPLY)] * 3
    logs = "".join(bundle.log("agent") for bundle in shape["workers"].values())
    assert "CRM API not answering" in logs
    assert "CRM API answering again" in logs


async def test_a_killed_worker_ends_its_calls_and_the_other_takes_new_ones(
    shape: dict, double: ProviderDouble
):
    core, nodes, workers = shape["core"], shape["cluster"].nodes, shape["workers"]
    # three callers at once: with two slots per worker, both have a call
    callers = [await place_call(core, nodes[i % 2].url) for i in range(3)]
    try:
        for caller in callers:
            await ask(caller, double)
        on = {c.call["call_id"]: call_record(core, c.call["call_id"])["worker"] for c in callers}
        assert set(on.values()) == set(WORKERS)
        before = {call_id: wait_for_turns(core, call_id, 3) for call_id in on}

        kill_container(workers["worker-a"])
        lost = [c for c in callers if on[c.call["call_id"]] == "worker-a"]
        kept = [c for c in callers if on[c.call["call_id"]] == "worker-b"]
        # the callers of the killed worker are hung up (not left in silence) ...
        for caller in lost:
            await caller.wait_for(
                lambda c=caller: c.room.connection_state == rtc.ConnectionState.CONN_DISCONNECTED,
                timeout=60,
                what="the lost call to be hung up",
            )
        # ... the other worker's calls go on, and a new call goes to it
        for caller in kept:
            await ask(caller, double)
        # the survivor has two slots: when it holds two of the three calls, one hangs up first
        for caller in kept[1:]:
            await caller.hang_up()
        new = await place_call(core, nodes[0].url)
        callers.append(new)
        await ask(new, double)
        assert call_record(core, new.call["call_id"])["worker"] == "worker-b"
    finally:
        for caller in callers:
            with contextlib.suppress(Exception):
                await caller.hang_up()
    for caller in lost:
        call_id = caller.call["call_id"]
        record = wait_until(
            lambda c=call_id: (r := call_record(core, c))["status"] == "ended" and r,
            timeout=30,
            what=f"lost call {call_id} to be closed",
        )
        assert record["outcome"] == "agent_lost"
        assert any(e["kind"] == "call_lost" for e in record["events"])
        # every turn written before the kill is still there
        assert turns(core, call_id)[: len(before[call_id])] == before[call_id]
    wait_until(
        lambda: set(reported_workers(core)) == {"worker-b"},
        timeout=30,
        what="the API to stop counting the killed worker",
    )


async def test_a_stopped_livekit_node_leaves_calls_to_the_other(
    shape: dict, double: ProviderDouble
):
    core, cluster = shape["core"], shape["cluster"]
    cluster.node(1).stop()
    for _ in range(2):
        caller = await place_call(core, cluster.node(2).url)
        try:
            await ask(caller, double)
        finally:
            await caller.hang_up()
        found = wait_for_turns(core, caller.call["call_id"], 3)
        assert ("agent", REPLY) in found
    await asyncio.sleep(0)  # nothing left running on the loop
