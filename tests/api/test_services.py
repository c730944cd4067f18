"""The service catalog: sample entries, create, update, delete, replace."""

from __future__ import annotations

import itertools

import httpx
import pytest

from app.crm.sample_catalog import SAMPLE_SERVICES
from tests.api.conftest import RunningApi, assert_error, running_api

_codes = itertools.count(1)


def service_body(**fields: object) -> dict:
    return {
        "code": f"svc-{next(_codes)}",
        "name_en": "SEO audit",
        "name_ar": "تدقيق تحسين محركات البحث",
        "price": 250,
        "currency": "USD",
        "unit": "one-off",
        **fields,
    }


def test_a_fresh_install_lists_the_sample_catalog():
    with running_api() as fresh:
        client = fresh.client()
        listed = client.get("/api/services").json()
        assert [s["code"] for s in listed] == [s["code"] for s in SAMPLE_SERVICES]
        assert all(s["is_sample"] and s["active"] for s in listed)
        assert listed[0]["name_ar"] == SAMPLE_SERVICES[0]["name_ar"]
        # Editing a sample entry makes it the operator's own.
        edited = client.patch(f"/api/services/{listed[0]['id']}", json={"price": 1}).json()
        assert edited["is_sample"] is False and edited["price"] == 1.0


def test_create_get_update_delete(client: httpx.Client):
    body = service_body(description_ar="وصف ‏(RTL)‏ مع English", price=99.999)
    response = client.post("/api/services", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["price"] == 100.0  # rounded to cents
    assert created["is_sample"] is False and created["active"] is True
    assert created["description_ar"] == body["description_ar"]
    assert created["name_ar"] == body["name_ar"]
    url = f"/api/services/{created['id']}"
    assert client.get(url).json() == created
    assert created in client.get("/api/services").json()

    updated = client.patch(url, json={"price": 300, "active": False, "unit": "month"}).json()
    assert (updated["price"], updated["active"], updated["unit"]) == (300.0, False, "month")
    assert updated["name_en"] == "SEO audit"

    deleted = client.delete(url)
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(client.get(url), 404, "not_found")
    assert_error(client.delete(url), 404)
    assert_error(client.patch(url, json={"price": 1}), 404)


def test_duplicate_code_is_refused(client: httpx.Client):
    body = service_body()
    assert client.post("/api/services", json=body).status_code == 201
    error = assert_error(client.post("/api/services", json=body), 422)
    assert body["code"] in error["message"]
    other = client.post("/api/services", json=service_body()).json()
    assert_error(client.patch(f"/api/services/{other['id']}", json={"code": body["code"]}), 422)


@pytest.mark.parametrize(
    "override, field",
    [
        ({"code": "Has Spaces"}, "code"),
        ({"code": "x" * 65}, "code"),
        ({"code": "'; DROP TABLE services;--"}, "code"),
        ({"name_en": ""}, "name_en"),
        ({"name_ar": "ن" * 121}, "name_ar"),
        ({"price": -1}, "price"),
        ({"price": 10_000_001}, "price"),
        ({"price": "free"}, "price"),
        ({"price": None}, "price"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "DOLLARS"}, "currency"),
        ({"unit": "week"}, "unit"),
        ({"active": "perhaps"}, "active"),
        ({"is_sample": True}, "is_sample"),
    ],
)
def test_create_refuses_bad_input(client: httpx.Client, override: dict, field: str):
    error = assert_error(client.post("/api/services", json=service_body(**override)), 422)
    assert field in error["message"]


def test_create_refuses_nan_and_infinity(client: httpx.Client):
    for literal in ("NaN", "Infinity", "-Infinity", "1e999"):
        raw = f'{{"code": "nan-check", "name_en": "a", "name_ar": "b", "price": {literal}}}'
        response = client.post(
            "/api/services", content=raw.encode(), headers={"Content-Type": "application/json"}
        )
        assert_error(response, 422)


def test_replace_catalog(api: RunningApi, client: httpx.Client):
    original = client.get("/api/services").json()
    keep = (
        "code",
        "name_en",
        "name_ar",
        "description_en",
        "description_ar",
        "price",
        "currency",
        "unit",
        "active",
    )
    try:
        mine = [service_body(code="consulting", price=120, unit="hour"), service_body()]
        response = client.put("/api/services", json=mine)
        assert response.status_code == 200, response.text
        replaced = response.json()
        assert [s["code"] for s in replaced] == [s["code"] for s in mine]
        assert not any(s["is_sample"] for s in replaced)
        assert client.get("/api/services").json() == replaced

        # A bad entry or a duplicate code leaves the catalog as it was.
        assert_error(client.put("/api/services", json=[mine[0], mine[0]]), 422)
        assert_error(client.put("/api/services", json=[service_body(price=-5)]), 422)
        assert_error(client.put("/api/services", json={"code": "x"}), 422)
        too_many = [service_body() for _ in range(501)]
        assert_error(client.put("/api/services", json=too_many), 422)
        assert client.get("/api/services").json() == replaced

        assert client.put("/api/services", json=[]).json() == []
    finally:
        restore = [{k: s[k] for k in keep} for s in original]
        assert client.put("/api/services", json=restore).status_code == 200
