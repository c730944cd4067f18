"""A client mistake is never a 500: every error is `{"error": {"code", "message"}}` JSON.

The sweeps below run over the app's own route table, so new routes are covered too.
"""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import Route, RunningApi, assert_error

BAD_IDS = [
    "0",
    "-1",
    "abc",
    "1.5",
    "1e3",
    "9" * 30,
    str(2**63),
    str(2**63 - 1),
    "%00",
    "%F0%9F%98%80",
    "%D9%A1",  # Arabic-Indic one
    "1%20OR%201=1",
    "'",
    "x" * 5000,
]

# None of these may be a valid body for any route (`[]` is a valid catalog, for one).
BAD_BODIES = [
    b"",
    b"{",
    b'{"name": ',
    b"{bad json}",
    b"null",
    b'"a string"',
    b"42",
    b"\xff\xfe{}",
    b'{"name": "ok"} trailing',
    b"[" * 50_000 + b"]" * 50_000,
    b'{"a": ' * 2000 + b"1" + b"}" * 2000,
]

CONTENT_TYPES = [
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
]

BAD_QUERIES = [
    {"limit": "-1"},
    {"limit": "0"},
    {"limit": "501"},
    {"limit": "abc"},
    {"limit": "1e3"},
    {"limit": "9" * 40},
    {"offset": "-5"},
    {"offset": "9" * 40},
    {"customer_id": "9" * 40},
    {"customer_id": "-3"},
    {"status": "'; DROP TABLE calls;--"},
    {"since": "not-a-date"},
    {"until": "2024-01-01'; --"},
    {"search": "s" * 5000},
    {"phone": "٠"},
]


def is_client_error(response: httpx.Response) -> bool:
    return 400 <= response.status_code < 500


def check(response: httpx.Response, what: str, failures: list[str]) -> None:
    """Anything but a 5xx is fine here; errors must be the JSON error body."""
    if response.status_code >= 500:
        failures.append(f"{what}: {response.status_code} {response.text[:200]}")
    elif response.status_code >= 400:
        try:
            assert_error(response, response.status_code)
        except AssertionError as error:
            failures.append(f"{what}: not a JSON error body: {error}")


def test_bad_path_ids_are_4xx(client: httpx.Client, app_routes: list[Route]):
    failures: list[str] = []
    for route in app_routes:
        if "{" not in route.path or route.path.startswith("/internal/"):
            continue  # the workers' routes: tests/api/test_internal.py
        for value in BAD_IDS:
            body = {} if route.method in ("POST", "PUT", "PATCH") else None
            response = client.request(route.method, route.url(value), json=body)
            check(response, f"{route} with {value[:20]!r}", failures)
            if value in ("abc", "9" * 30, str(2**63), "1.5"):
                if response.status_code != 422:
                    failures.append(f"{route} with {value!r}: {response.status_code}, not 422")
    assert not failures, "\n".join(failures)


POST_BODIES = {
    "link": {"customer_id": 1},
    "verification-code": {},
    "keys": {"name": "x"},
    "handback": {},
}
"""Valid bodies for POST routes on an id, by their last path segment (else a status change)."""


def test_unknown_ids_are_404(client: httpx.Client, app_routes: list[Route]):
    failures: list[str] = []
    for route in app_routes:
        if "{" not in route.path or route.path.startswith("/internal/"):
            continue  # the workers' routes: tests/api/test_internal.py
        body = {
            "PATCH": {"price": 1}
            if "/services/" in route.path
            else {"name": "x"}
            if "/operators/" in route.path
            else {"notes": "x"},
            "POST": POST_BODIES.get(route.path.rsplit("/", 1)[-1], {"status": "closed"}),
        }.get(route.method)
        response = client.request(route.method, route.url(str(2**63 - 1)), json=body)
        if response.status_code != 404:
            failures.append(f"{route}: {response.status_code} {response.text[:200]}")
        else:
            assert_error(response, 404, "not_found")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_malformed_bodies_are_4xx(client: httpx.Client, app_routes: list[Route], content_type: str):
    failures: list[str] = []
    for route in app_routes:
        if route.method not in ("POST", "PUT", "PATCH"):
            continue
        for body in BAD_BODIES:
            response = client.request(
                route.method, route.url("1"), content=body, headers={"Content-Type": content_type}
            )
            check(response, f"{route} [{content_type}] {body[:20]!r}", failures)
            if not is_client_error(response):
                failures.append(f"{route} [{content_type}] {body[:20]!r}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_bad_query_parameters_are_4xx(client: httpx.Client, app_routes: list[Route]):
    failures: list[str] = []
    for route in app_routes:
        if route.method != "GET" or not route.is_api:
            continue
        for params in BAD_QUERIES:
            response = client.get(route.url("1"), params=params)
            check(response, f"{route} {params}", failures)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "path, params",
    [
        ("/api/calls", {"limit": "-1"}),
        ("/api/calls", {"limit": "0"}),
        ("/api/calls", {"limit": "100000"}),
        ("/api/customers", {"offset": "-1"}),
        ("/api/tickets", {"limit": "ten"}),
        ("/api/quotes", {"customer_id": "9" * 40}),
        ("/api/calls", {"customer_id": str(2**63)}),
        ("/api/calls", {"status": "bogus"}),
        ("/api/calls", {"department": "billing"}),
        ("/api/calls", {"language": "fr"}),
        ("/api/calls", {"since": "yesterday"}),
        ("/api/tickets", {"priority": "critical"}),
        ("/api/customers", {"search": "s" * 121}),
    ],
)
def test_bad_query_values_are_422(client: httpx.Client, path: str, params: dict):
    error = assert_error(client.get(path, params=params), 422, "validation_error")
    assert next(iter(params)) in error["message"]


@pytest.mark.parametrize(
    "content, content_type",
    [
        (b"{bad json", "application/json"),
        (b'{"language": "en"', "application/json"),
        (b'{"language": "en"}', "text/plain"),
        (b"language=en", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
        (b"[]", "application/json"),
        (b"null", "application/json"),
    ],
)
def test_start_call_with_a_malformed_body_is_422(
    anon: httpx.Client, content: bytes, content_type: str
):
    response = anon.post("/api/calls", content=content, headers={"Content-Type": content_type})
    assert_error(response, 422, "validation_error")


def test_unknown_paths_and_methods_are_json(client: httpx.Client, anon: httpx.Client):
    assert_error(anon.get("/api/nope"), 404, "not_found")
    assert_error(anon.get("/nope.php?x=<script>"), 404, "not_found")
    assert_error(client.delete("/api/customers"), 405, "method_not_allowed")
    assert_error(client.put("/api/calls/1", json={}), 405, "method_not_allowed")
    assert_error(anon.post("/healthz"), 405)


def test_oversized_and_wrongly_typed_fields(client: httpx.Client, anon: httpx.Client):
    cases = [
        (anon, "/api/calls", {"name": "ن" * 121}),
        (anon, "/api/calls", {"phone": "0" * 33}),
        (anon, "/api/calls", {"language": 1}),
        (anon, "/api/calls", {"department": ["sales"]}),
        (anon, "/api/calls", {"name": True}),
        (client, "/api/customers", {"name": "a", "service_interest": "s" * 201}),
        (client, "/api/customers", {"name": "a", "notes": 12.5}),
        (client, "/api/tickets", {"customer_id": [1], "subject": "x"}),
        (client, "/api/tickets", {"customer_id": 1, "subject": {"en": "x"}}),
    ]
    for http, path, body in cases:
        assert_error(http.post(path, json=body), 422, "validation_error")


def test_the_tables_survive_everything_above(api: RunningApi):
    db = api.db()
    try:
        tables = set(db.table_names())
        assert {"customers", "calls", "call_events", "tickets", "services", "quotes"} <= tables
        assert next(db.query("PRAGMA integrity_check"))["integrity_check"] == "ok"
    finally:
        db.close()
