"""The internal routes workers on other machines use (app/routers/internal.py): only the worker
service key opens them, it opens nothing else, and the CRM operations behave as in-process."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.conftest import (
    PUBLIC_API_ROUTES,
    Route,
    RunningApi,
    assert_error,
    running_api,
)
from tests.api.test_calls import start_call
from tests.support import wait_until

SERVICE_HEADER = "X-Service-Key"


def internal(app_routes: list[Route]) -> list[Route]:
    return [r for r in app_routes if r.path.startswith("/internal/")]


def operation(name: str, **arguments: object) -> dict:
    return {"id": uuid.uuid4().hex, "name": name, "arguments": arguments}


def run(api: RunningApi, *operations: dict) -> list[dict]:
    response = api.client(key=None, **{SERVICE_HEADER: api.service_key}).post(
        "/internal/crm", json={"operations": list(operations)}
    )
    assert response.status_code == 200, response.text
    return response.json()["results"]


def report(**fields: object) -> dict:
    return {
        "worker_name": "worker-a",
        "agent_name": "ornina-test-agent",
        "registered": True,
        "draining": False,
        "calls": 0,
        "max_calls": 2,
        **fields,
    }


def test_the_internal_routes_are_those_of_workers(app_routes: list[Route]):
    assert {str(r) for r in internal(app_routes)} == {
        "POST /internal/crm",
        "PUT /internal/workers/{worker_id}",
    }


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no key"),
        pytest.param({SERVICE_HEADER: ""}, id="empty key"),
        pytest.param({SERVICE_HEADER: "wrong-key-0123456789abcdef0123456789"}, id="wrong key"),
        pytest.param("operator-as-service", id="operator key as service key"),
        pytest.param("operator", id="operator key"),
        pytest.param("operator-bearer", id="operator bearer"),
    ],
)
def test_internal_routes_refuse_anything_but_the_service_key(
    api: RunningApi, app_routes: list[Route], headers: dict[str, str] | str
):
    if headers == "operator-as-service":
        headers = {SERVICE_HEADER: api.operator_key}
    elif headers == "operator":
        headers = {"X-API-Key": api.operator_key}
    elif headers == "operator-bearer":
        headers = {"Authorization": f"Bearer {api.operator_key}"}
    anon = api.client(key=None)
    before = len(run(api, operation("services.list_services"))[0]["answer"])
    assert before > 0
    for route in internal(app_routes):
        body = (
            {"operations": [operation("calls.add_event", call_id=1, kind="probe")]}
            if route.method == "POST"
            else report()
        )
        response = anon.request(route.method, route.url("worker-x"), json=body, headers=headers)
        assert_error(response, 401, "unauthorized")
    # nothing was reported
    workers = api.client().get("/api/workers").json()["workers"]
    assert "worker-x" not in {w["worker_id"] for w in workers}


def test_the_service_key_opens_no_operator_route(api: RunningApi, app_routes: list[Route]):
    guarded = [r for r in app_routes if r.is_api and (r.method, r.path) not in PUBLIC_API_ROUTES]
    anon = api.client(key=None)
    failures = []
    for route in guarded:
        for headers in (
            {SERVICE_HEADER: api.service_key},
            {"X-API-Key": api.service_key},
            {"Authorization": f"Bearer {api.service_key}"},
        ):
            response = anon.request(route.method, route.url(), json={}, headers=headers)
            if response.status_code != 401:
                failures.append(f"{route} {list(headers)}: {response.status_code}")
    assert not failures, failures


def test_without_a_service_key_configured_every_worker_is_refused():
    with running_api({"WORKER_SERVICE_KEY": ""}) as api:
        anon = api.client(key=None)
        for key in ("", "x" * 40, api.operator_key):
            response = anon.post(
                "/internal/crm",
                json={"operations": [operation("services.list_services")]},
                headers={SERVICE_HEADER: key} if key else {},
            )
            assert_error(response, 401, "unauthorized")


def test_a_calls_operations_run_in_order_with_their_answers_and_errors(
    api: RunningApi, anon: httpx.Client
):
    call_id = start_call(anon, language="en")["call_id"]
    results = run(
        api,
        operation("calls.mark_agent_joined", call_id=call_id, worker="worker-a"),
        operation("calls.add_turn", call_id=call_id, role="caller", text="Hello there"),
        operation("calls.add_turn", call_id=call_id, role="agent", text="Hi, how can I help?"),
        operation("calls.get_call", call_id=999_999_999),
        operation("calls.add_event", call_id=call_id, kind="probe", persona="reception", n=3),
    )
    assert results[0]["answer"]["worker"] == "worker-a"
    assert results[0]["answer"]["status"] == "active"
    assert results[1]["answer"]["text"] == "Hello there"
    assert results[3]["error"]["type"] == "NotFound"
    assert results[3]["answer"] is None
    call = api.client().get(f"/api/calls/{call_id}").json()
    assert call["worker"] == "worker-a"
    assert [t["text"] for t in call["transcript"]] == ["Hello there", "Hi, how can I help?"]
    assert any(e["kind"] == "probe" for e in call["events"])
    ended = run(api, operation("calls.end_call", call_id=call_id, outcome="completed"))[0]
    assert ended["answer"]["status"] == "ended"  # not a live call for the other tests


def test_a_write_sent_twice_is_applied_once(api: RunningApi, anon: httpx.Client):
    """A worker whose answer was lost (the API restarted) sends the same id again."""
    call_id = start_call(anon, language="en")["call_id"]
    turn = operation("calls.add_turn", call_id=call_id, role="caller", text="Only once")
    first = run(api, turn)[0]
    again = run(api, turn, operation("calls.add_turn", call_id=call_id, role="agent", text="Ok"))
    assert again[0] == first
    transcript = api.client().get(f"/api/calls/{call_id}").json()["transcript"]
    assert [t["text"] for t in transcript] == ["Only once", "Ok"]


def test_arguments_are_checked_against_the_functions_signature(api: RunningApi):
    results = run(
        api,
        operation("calls.add_turn", call_id="not a number", role="caller", text="x"),
        operation("calls.end_call", call_id=1, outcome="ok", surprise=True),
        operation("tickets.open_ticket", customer_id=None),
        operation("calls.add_event", call_id=1, kind="x", db="/etc/passwd"),
    )
    for result in results:
        assert result["error"]["type"] == "InvalidArguments", result
    assert "call_id" in results[0]["error"]["detail"]
    assert "surprise" in results[1]["error"]["detail"]
    assert "subject" in results[2]["error"]["detail"]
    assert "db" in results[3]["error"]["detail"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"operations": []}, id="no operations"),
        pytest.param(
            {"operations": [{"id": "abcdefgh", "name": "operators.create"}]}, id="unknown"
        ),
        pytest.param(
            {"operations": [{"id": "x", "name": "calls.get_call", "arguments": {}}]}, id="short id"
        ),
        pytest.param({"operations": [operation("calls.get_call")] * 201}, id="too many"),
        pytest.param({"ops": []}, id="wrong field"),
    ],
)
def test_a_malformed_request_is_refused_as_a_whole(api: RunningApi, body: dict):
    response = api.client(key=None, **{SERVICE_HEADER: api.service_key}).post(
        "/internal/crm", json=body
    )
    assert_error(response, 422, "validation_error")


def test_reports_list_the_workers_and_their_load_for_operators(api: RunningApi):
    worker = api.client(key=None, **{SERVICE_HEADER: api.service_key})
    response = worker.put(
        "/internal/workers/worker-b", json=report(worker_name="worker-b", calls=1)
    )
    assert response.status_code == 204, response.text
    bad = worker.put("/internal/workers/worker-b", json=report(calls=-1))
    assert_error(bad, 422, "validation_error")
    workers = {w["worker_id"]: w for w in api.client().get("/api/workers").json()["workers"]}
    assert workers["worker-b"]["calls"] == 1
    assert workers["worker-b"]["max_calls"] == 2


def test_the_gate_adds_up_the_free_slots_of_the_workers_that_report():
    """A core without a worker of its own (RUN_WORKER=false): calls are taken while a reported
    worker has a free slot, refused (503) before a token when none reports or all are full."""
    env = {"CALLS_REQUIRE_WORKER": "true", "RUN_WORKER": "false", "AGENT_NAME": "gate-test"}
    with running_api(env) as api:
        anon = api.client(key=None)
        worker = api.client(key=None, **{SERVICE_HEADER: api.service_key})
        refused = assert_error(anon.post("/api/calls", json={}), 503, "not_ready")
        assert "no agent worker has reported" in refused["message"]
        assert api.client().get("/readyz").json()["error"]["checks"].keys() == {"crm", "livekit"}

        def put(name: str, **fields: object) -> None:
            body = report(worker_name=name, agent_name="gate-test", **fields)
            assert worker.put(f"/internal/workers/{name}", json=body).status_code == 204

        put("worker-a", calls=1, max_calls=1)
        busy = assert_error(anon.post("/api/calls", json={}), 503, "not_ready")
        assert "all 1 call slots are in use" in busy["message"]
        put("worker-b", calls=0, max_calls=1)
        assert anon.post("/api/calls", json={}).status_code == 201
        # that call counts as taken until the workers' reports can show it
        assert_error(anon.post("/api/calls", json={}), 503, "not_ready")
        put("worker-c", calls=0, max_calls=2, draining=True)
        assert_error(anon.post("/api/calls", json={}), 503, "not_ready")
        put("worker-c", calls=0, max_calls=2)
        assert anon.post("/api/calls", json={}).status_code == 201


@pytest.mark.parametrize("worker_id", ["a" * 129, "bad id", "x%2Fy", "%00"])
def test_a_bad_worker_name_is_refused(api: RunningApi, worker_id: str):
    worker = api.client(key=None, **{SERVICE_HEADER: api.service_key})
    response = worker.put(f"/internal/workers/{worker_id}", json=report())
    assert response.status_code in (404, 422), response.text
    assert response.json()["error"]["code"] in ("not_found", "validation_error")


def test_two_workers_under_one_name_are_told_apart_in_the_log(api: RunningApi):
    worker = api.client(key=None, **{SERVICE_HEADER: api.service_key})
    first, second = "a" * 32, "b" * 32
    # a restart (a new process under the name) is not a conflict ...
    for instance in (first, second):
        response = worker.put(
            "/internal/workers/worker-d", json=report(worker_name="worker-d", instance=instance)
        )
        assert response.status_code == 204, response.text
    assert "two workers report under one name" not in api.log()
    # ... two processes taking turns are
    worker.put("/internal/workers/worker-d", json=report(worker_name="worker-d", instance=first))
    wait_until(
        lambda: "two workers report under one name" in api.log(),
        timeout=10,
        what="the API to warn about one name for two workers",
    )
