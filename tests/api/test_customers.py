"""Customers: create, read, update, lookup and search, with Arabic text and hostile strings."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.api.conftest import (
    PUBLIC_API_ROUTES,
    RunningApi,
    assert_error,
    new_customer,
    unique_phone,
)

RLM, LRM = "\u200f", "\u200e"

ROUND_TRIP_TEXTS = [
    "محمد عبد الله",
    f"{RLM}سارة{RLM} Smith",
    f"أحمد {LRM}(VIP){LRM} - Ornina",
    "عميل رقم ١٢٣ / customer no. 123",
]

HOSTILE_TEXTS = [
    "Robert'); DROP TABLE customers;--",
    'O"Brien \\ back\\slash',
    "1' OR '1'='1",
    "'; DELETE FROM calls WHERE 1=1; --",
    "% _ LIKE wildcards %%",
    "<script>alert('x')</script>",
    "😀 emoji ☎️",
]


def test_create_get_and_update(client: httpx.Client):
    phone = unique_phone()
    created = new_customer(
        client,
        name="Layla",
        phone=phone,
        email="layla@example.com",
        service_interest="mobile app",
        language="en",
        notes="prefers mornings",
    )
    assert created["phone"] == "+966" + phone[1:]
    assert created["name"] == "Layla" and created["language"] == "en"
    assert created["created_at"] == created["updated_at"]

    detail = client.get(f"/api/customers/{created['id']}").json()
    assert {k: detail[k] for k in created} == created
    assert detail["calls"] == [] and detail["tickets"] == [] and detail["quotes"] == []

    response = client.patch(
        f"/api/customers/{created['id']}", json={"notes": "call after 5pm", "language": "ar"}
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["notes"] == "call after 5pm" and updated["language"] == "ar"
    assert updated["name"] == "Layla" and updated["email"] == "layla@example.com"
    assert updated["updated_at"] >= created["updated_at"]


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS)
def test_arabic_and_mixed_text_round_trips_unchanged(client: httpx.Client, text: str):
    created = new_customer(client, name=text, notes=text, service_interest=text)
    fetched = client.get(f"/api/customers/{created['id']}").json()
    for field in ("name", "notes", "service_interest"):
        assert fetched[field] == text, field
    assert (
        client.patch(f"/api/customers/{created['id']}", json={"notes": text}).json()["notes"]
        == text
    )
    found = client.get("/api/customers", params={"search": text}).json()
    assert created["id"] in [c["id"] for c in found]


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_quotes_and_sql_fragments_are_stored_verbatim(
    api: RunningApi, client: httpx.Client, text: str
):
    tables_before = set(api.db().table_names())
    created = new_customer(client, name=text, notes=text)
    assert created["name"] == text and created["notes"] == text
    assert client.get(f"/api/customers/{created['id']}").json()["name"] == text
    found = client.get("/api/customers", params={"search": text, "limit": 500}).json()
    assert [c["id"] for c in found] == [created["id"]]
    assert set(api.db().table_names()) == tables_before
    assert client.get("/api/calls", params={"limit": 1}).status_code == 200


def test_search_treats_like_wildcards_literally(client: httpx.Client):
    marker = unique_phone()
    new_customer(client, name=f"wild{marker}%card")
    plain = new_customer(client, name=f"wild{marker}Xcard")
    assert len(client.get("/api/customers", params={"search": f"wild{marker}%"}).json()) == 1
    found = client.get("/api/customers", params={"search": f"wild{marker}_card"}).json()
    assert found == []
    found = client.get("/api/customers", params={"search": f"wild{marker}X"}).json()
    assert [c["id"] for c in found] == [plain["id"]]


def test_arabic_indic_digits_are_normalised(client: httpx.Client):
    local = unique_phone()
    arabic = RLM + local.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")) + RLM
    created = new_customer(client, phone=arabic, name="هند")
    assert created["phone"] == "+966" + local[1:]
    persian = local.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    found = client.get("/api/customers/lookup", params={"phone": persian})
    assert found.status_code == 200 and found.json()["id"] == created["id"]


@pytest.mark.parametrize(
    "format_",
    ["+966 {rest}", "00966{rest}", "0{rest}", "966{rest}", "{rtl}+966{rest}{rtl}"],
)
def test_lookup_accepts_any_common_format(client: httpx.Client, format_: str):
    local = unique_phone()
    created = new_customer(client, phone=local)
    query = format_.format(rest=local[1:], rtl=LRM)
    response = client.get("/api/customers/lookup", params={"phone": query})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == created["id"]


def test_lookup_errors(client: httpx.Client):
    assert_error(client.get("/api/customers/lookup", params={"phone": "0599999990"}), 404)
    assert_error(client.get("/api/customers/lookup", params={"phone": "abc"}), 422)
    assert_error(client.get("/api/customers/lookup", params={"phone": "9" * 40}), 422)
    assert_error(client.get("/api/customers/lookup"), 422)
    assert_error(client.get("/api/customers/lookup", params={"phone": ""}), 422)


def test_phone_is_unique(client: httpx.Client):
    local = unique_phone()
    first = new_customer(client, phone=local)
    error = assert_error(
        client.post("/api/customers", json={"phone": "+966" + local[1:], "name": "Dup"}), 422
    )
    assert "phone" in error["message"]
    other = new_customer(client)
    error = assert_error(client.patch(f"/api/customers/{other['id']}", json={"phone": local}), 422)
    assert "phone" in error["message"]
    assert client.get(f"/api/customers/{first['id']}").json()["phone"] == "+966" + local[1:]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name or a phone"),
        ({"name": "x" * 121}, "name"),
        ({"name": "ok", "notes": "n" * 2001}, "notes"),
        ({"name": "ok", "email": "a" * 250 + "@x.io"}, "email"),
        ({"name": "ok", "email": "not-an-email"}, "email"),
        ({"name": "ok", "language": "fr"}, "language"),
        ({"name": "ok", "phone": "abc"}, "phone"),
        ({"name": "ok", "phone": "+1 555"}, "phone"),
        ({"name": 42}, "name"),
        ({"name": {"first": "a"}}, "name"),
        ({"name": "ok", "phone": ["0501234567"]}, "phone"),
        ({"name": "ok", "id": 5}, "id"),
        ({"name": "ok", "created_at": "2020-01-01"}, "created_at"),
        ({"name": "bad\x00nul"}, "name"),
    ],
)
def test_create_refuses_bad_input(client: httpx.Client, body: dict, field: str):
    error = assert_error(client.post("/api/customers", json=body), 422, "validation_error")
    assert field in error["message"]


def test_update_refuses_bad_input_and_unknown_ids(client: httpx.Client):
    customer = new_customer(client)
    url = f"/api/customers/{customer['id']}"
    assert_error(client.patch(url, json={"email": "nope"}), 422)
    assert_error(client.patch(url, json={"name": None}), 422)
    assert_error(client.patch(url, json={"phone": "123"}), 422)
    assert_error(client.patch(url, json={"language": "de"}), 422)
    assert_error(client.patch(url, json={"id": 99}), 422)
    assert client.get(url).json()["name"] == customer["name"]
    assert_error(client.patch("/api/customers/987654321", json={"notes": "x"}), 404)
    assert_error(client.get("/api/customers/987654321"), 404, "not_found")


def test_list_pagination_newest_first(client: httpx.Client):
    made = [new_customer(client) for _ in range(3)]
    listed = client.get("/api/customers", params={"limit": 3}).json()
    assert [c["id"] for c in listed] == [c["id"] for c in reversed(made)]
    second = client.get("/api/customers", params={"limit": 1, "offset": 1}).json()
    assert [c["id"] for c in second] == [made[1]["id"]]
    by_phone = client.get("/api/customers", params={"search": made[0]["phone"]}).json()
    assert [c["id"] for c in by_phone] == [made[0]["id"]]


def test_verification_codes_for_a_customer(api, client: httpx.Client):
    customer = new_customer(client)
    url = f"/api/customers/{customer['id']}/verification-code"
    issued = client.post(url, json={})
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["customer_id"] == customer["id"] and re.fullmatch(r"\d{6}", body["code"])
    assert body["expires_at"].startswith("20")
    # the company's website asks for its signed-in customer with its server key
    backend = api.client(key=None, **{"X-Server-Key": api.server_key})
    assert backend.post(url, json={"valid_minutes": 60}).status_code == 201
    assert_error(api.client(key=None, **{"X-Server-Key": "x" * 32}).post(url, json={}), 401)
    assert_error(api.client(key=None).post(url, json={}), 401)
    assert_error(client.post(url, json={"valid_minutes": 600}), 422, "validation_error")
    missing = client.post("/api/customers/999999999/verification-code", json={})
    assert_error(missing, 404, "not_found")
    # the CRM keeps no code in clear
    db = api.db()
    try:
        stored = [r["code_hash"] for r in db.query("SELECT code_hash FROM verification_codes")]
    finally:
        db.close()
    assert body["code"] not in " ".join(stored)


def test_the_server_key_opens_no_operator_route(api, app_routes):
    backend = api.client(key=None, **{"X-Server-Key": api.server_key})
    for route in app_routes:
        if not route.is_api or route.path.endswith("/verification-code"):
            continue
        if (route.method, route.path) in PUBLIC_API_ROUTES:
            continue
        body = {} if route.method in ("POST", "PUT", "PATCH") else None
        response = backend.request(route.method, route.url("1"), json=body)
        assert response.status_code == 401, (str(route), response.text)
