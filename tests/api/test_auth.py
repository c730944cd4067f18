"""The operator key guards every /api route except starting a call and listing personas.

Built from the app's own route table, so a route added later is covered without a new test.
"""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import PUBLIC_API_ROUTES, Route, RunningApi, assert_error


def guarded(routes: list[Route]) -> list[Route]:
    return [r for r in routes if r.is_api and (r.method, r.path) not in PUBLIC_API_ROUTES]


def send(client: httpx.Client, route: Route, **headers: str) -> httpx.Response:
    body = {} if route.method in ("POST", "PUT", "PATCH") else None
    return client.request(route.method, route.url("1"), json=body, headers=headers)


def test_the_public_routes_exist(app_routes: list[Route]):
    assert PUBLIC_API_ROUTES <= {(r.method, r.path) for r in app_routes}
    assert len(guarded(app_routes)) >= 15


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no key"),
        pytest.param({"X-API-Key": ""}, id="empty key"),
        pytest.param({"X-API-Key": "wrong-key-0123456789abcdef"}, id="wrong key"),
        pytest.param({"Authorization": "Bearer wrong-key-0123456789abcdef"}, id="wrong bearer"),
        pytest.param({"Authorization": "Basic b3BlcmF0b3I6a2V5"}, id="basic auth"),
    ],
)
def test_every_guarded_route_answers_401(
    api: RunningApi, app_routes: list[Route], headers: dict[str, str]
):
    anon = api.client(key=None)
    failures = []
    for route in guarded(app_routes):
        response = send(anon, route, **headers)
        if response.status_code != 401:
            failures.append(f"{route}: {response.status_code} {response.text[:200]}")
            continue
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    assert not failures, "\n".join(failures)


def test_a_key_that_only_starts_like_the_real_one_is_refused(
    api: RunningApi, app_routes: list[Route]
):
    anon = api.client(key=None)
    for wrong in (api.operator_key[:-1], api.operator_key + "x", api.operator_key.upper()):
        if wrong == api.operator_key:
            continue
        for route in guarded(app_routes):
            assert send(anon, route, **{"X-API-Key": wrong}).status_code == 401, route


def test_a_refused_write_changes_nothing(api: RunningApi, client: httpx.Client):
    anon = api.client(key=None)
    before = client.get("/api/customers", params={"limit": 500}).json()
    response = anon.post("/api/customers", json={"name": "Intruder", "phone": "0559999999"})
    assert_error(response, 401)
    assert client.get("/api/customers", params={"limit": 500}).json() == before


def test_the_key_is_accepted_as_header_or_bearer(api: RunningApi, app_routes: list[Route]):
    for headers in (
        {"X-API-Key": api.operator_key},
        {"Authorization": f"Bearer {api.operator_key}"},
        {"Authorization": f"bearer {api.operator_key}"},
    ):
        anon = api.client(key=None)
        for route in guarded(app_routes):
            if route.method != "GET" or "{" in route.path:
                continue
            params = {"phone": "0500000000"} if route.path.endswith("/lookup") else None
            response = anon.get(route.path, headers=headers, params=params)
            assert response.status_code in (200, 404), (route, headers, response.text)


def test_public_routes_answer_without_a_key(anon: httpx.Client):
    assert anon.post("/api/calls", json={}).status_code == 201
    assert anon.get("/api/personas").status_code == 200
    assert anon.get("/healthz").status_code == 200
    assert anon.get("/openapi.json").status_code == 200
