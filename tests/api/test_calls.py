"""`POST /api/calls` (public): a call row, a fresh room, and a token that dispatches the agent."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest

from app.crm import tickets
from tests.api.conftest import (
    TEST_AGENT_NAME,
    RunningApi,
    assert_error,
    new_customer,
    running_api,
    unique_phone,
)


def decode(token: str) -> dict:
    return jwt.decode(token, "secret", algorithms=["HS256"])


def start_call(anon: httpx.Client, headers: dict[str, str] | None = None, **body: object) -> dict:
    response = anon.post("/api/calls", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_token_dispatches_exactly_the_configured_agent(api: RunningApi, anon: httpx.Client):
    phone = unique_phone()
    started = start_call(anon, language="en", department="sales", name="Lina", phone=phone)

    claims = decode(started["token"])
    assert claims["iss"] == "devkey"
    assert claims["exp"] > time.time()
    assert claims["video"]["roomJoin"] is True
    assert claims["video"]["room"] == started["room"]
    assert "roomAdmin" not in claims["video"] and "roomCreate" not in claims["video"]
    agents = claims["roomConfig"]["agents"]
    assert len(agents) == 1
    assert agents[0]["agentName"] == TEST_AGENT_NAME
    metadata = json.loads(agents[0]["metadata"])
    assert metadata == {
        "call_id": started["call_id"],
        "department": "sales",
        "language": "en",
        "name": "Lina",
        "phone": "+966" + phone[1:],
    }
    assert started["livekit_url"] == api.env["LIVEKIT_URL"]
    assert started["language"] == "en" and started["department"] == "sales"


def test_token_is_refused_with_another_secret(anon: httpx.Client):
    token = start_call(anon)["token"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "not-the-secret", algorithms=["HS256"])


def test_defaults_are_arabic_and_reception(anon: httpx.Client, client: httpx.Client):
    started = start_call(anon)
    assert (started["language"], started["department"]) == ("ar", "reception")
    metadata = json.loads(decode(started["token"])["roomConfig"]["agents"][0]["metadata"])
    assert metadata["language"] == "ar" and metadata["department"] == "reception"
    assert metadata["name"] is None and metadata["phone"] is None
    call = client.get(f"/api/calls/{started['call_id']}").json()
    assert call["customer_id"] is None and call["caller_phone"] is None


def test_the_call_row_exists_with_a_dispatched_event(anon: httpx.Client, client: httpx.Client):
    started = start_call(anon, department="complaints", language="ar", name="سارة")
    response = client.get(f"/api/calls/{started['call_id']}")
    assert response.status_code == 200
    call = response.json()
    assert call["id"] == started["call_id"]
    assert call["room"] == started["room"]
    assert call["status"] == "created"
    assert call["department"] == "complaints" and call["language"] == "ar"
    assert call["caller_name"] == "سارة"
    assert call["transcript"] == []
    assert [event["kind"] for event in call["events"]] == ["dispatched"]
    assert call["events"][0]["data"] == {"agent_name": TEST_AGENT_NAME, "room": started["room"]}


def test_a_hundred_calls_get_a_hundred_rooms(anon: httpx.Client):
    started = [start_call(anon) for _ in range(100)]
    rooms = {call["room"] for call in started}
    assert len(rooms) == 100
    assert len({call["call_id"] for call in started}) == 100
    token_rooms = {decode(call["token"])["video"]["room"] for call in started}
    assert token_rooms == rooms
    identities = {decode(call["token"])["sub"] for call in started}
    assert len(identities) == 100


def test_the_public_call_start_creates_and_changes_no_customer(
    anon: httpx.Client, client: httpx.Client
):
    """A number typed on the public page is a claim: kept on the call, no row made or changed."""
    known = new_customer(client, name="Omar")
    unnamed = client.post("/api/customers", json={"phone": unique_phone()}).json()
    before = client.get("/api/customers", params={"limit": 500}).json()
    new_local = unique_phone()
    started = [
        start_call(anon, phone=new_local, name="Omar"),
        start_call(anon, phone=new_local.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))),
        start_call(anon, phone=known["phone"], name="Someone Else", language="en"),
        start_call(anon, phone=unnamed["phone"], name="Huda"),
        start_call(anon, name="Only A Name"),
    ]
    assert client.get("/api/customers", params={"limit": 500}).json() == before
    calls = [client.get(f"/api/calls/{s['call_id']}").json() for s in started]
    assert [c["customer_id"] for c in calls] == [None] * 5
    assert [c["identity_level"] for c in calls] == ["claimed"] * 5
    assert [s["identity_level"] for s in started] == ["claimed"] * 5
    assert calls[0]["caller_phone"] == calls[1]["caller_phone"] == "+966" + new_local[1:]
    assert calls[2]["caller_phone"] == known["phone"] and calls[2]["caller_name"] == "Someone Else"
    assert start_call(anon)["identity_level"] == "anonymous"


def test_a_trusted_backend_starts_a_verified_call(api, anon: httpx.Client, client: httpx.Client):
    customer = new_customer(client, name="Omar", language="en")
    started = start_call(anon, customer_id=customer["id"], headers={"X-Server-Key": api.server_key})
    assert started["identity_level"] == "verified"
    assert started["language"] == "en"  # the language of the customer's last call
    call = client.get(f"/api/calls/{started['call_id']}").json()
    assert (call["identity_level"], call["identity_method"], call["customer_id"]) == (
        "verified",
        "trusted_token",
        customer["id"],
    )
    listed = client.get("/api/calls", params={"identity_level": "verified"}).json()
    assert started["call_id"] in [c["id"] for c in listed]


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "X-Server-Key"),
        ({"X-Server-Key": "wrong-key-0123456789abcdef"}, 401, "wrong server key"),
        ({"X-Server-Key": ""}, 401, "X-Server-Key"),
        ("operator", 401, "X-Server-Key"),  # the operator key is not the backend's
    ],
)
def test_naming_a_customer_needs_the_server_key(
    api, anon: httpx.Client, client: httpx.Client, headers, status, message
):
    customer = new_customer(client)
    if headers == "operator":
        headers = {"X-API-Key": api.operator_key}
    before = client.get("/api/calls", params={"limit": 1}).json()
    response = anon.post("/api/calls", json={"customer_id": customer["id"]}, headers=headers)
    assert message in assert_error(response, status, "unauthorized")["message"]
    assert client.get("/api/calls", params={"limit": 1}).json() == before


def test_an_unknown_customer_is_404_and_starts_nothing(api, anon: httpx.Client, client):
    before = client.get("/api/calls", params={"limit": 1}).json()
    response = anon.post(
        "/api/calls", json={"customer_id": 999999999}, headers={"X-Server-Key": api.server_key}
    )
    assert_error(response, 404, "not_found")
    for bad in (0, -1, "x", 2**63):
        response = anon.post(
            "/api/calls", json={"customer_id": bad}, headers={"X-Server-Key": api.server_key}
        )
        assert_error(response, 422, "validation_error")
    assert client.get("/api/calls", params={"limit": 1}).json() == before


def test_without_a_configured_backend_key_no_call_is_verified():
    with running_api({"TRUSTED_BACKEND_KEY": ""}) as bare:
        anon = bare.client(key=None)
        response = anon.post(
            "/api/calls", json={"customer_id": 1}, headers={"X-Server-Key": "a" * 32}
        )
        # the same answer as a wrong key: an outsider learns nothing of the set-up
        assert assert_error(response, 401, "unauthorized")["message"] == "wrong server key"
        assert "TRUSTED_BACKEND_KEY is not set" in bare.log()


def test_wrong_server_keys_count_against_the_rate_limit():
    with running_api({"CALLS_RATE_LIMIT_PER_MINUTE": "3"}) as limited:
        anon = limited.client(key=None)
        wrong = {"X-Server-Key": "wrong-key-0123456789abcdef"}
        statuses = [
            anon.post("/api/calls", json={"customer_id": 1}, headers=wrong).status_code
            for _ in range(5)
        ]
        assert statuses == [401, 401, 401, 429, 429]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"phone": "abc"}, "phone"),
        ({"phone": "123"}, "phone"),
        ({"phone": "+1 555"}, "phone"),
        ({"phone": "9" * 40}, "phone"),
        ({"phone": ""}, "phone"),
        ({"phone": 501234567}, "phone"),
        ({"language": "fr"}, "language"),
        ({"language": "AR"}, "language"),
        ({"language": None, "department": "billing"}, "department"),
        ({"department": "Sales"}, "department"),
        ({"name": "x" * 121}, "name"),
        ({"name": "   "}, "name"),
        ({"name": ["Ahmed"]}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"room": "call-mine"}, "room"),
        ({"agent_name": "other-agent"}, "agent_name"),
    ],
)
def test_bad_input_is_a_422_and_creates_nothing(
    anon: httpx.Client, client: httpx.Client, body: dict, field: str
):
    before = client.get("/api/calls", params={"limit": 1}).json()
    error = assert_error(anon.post("/api/calls", json=body), 422, "validation_error")
    assert field in error["message"]
    after = client.get("/api/calls", params={"limit": 1}).json()
    assert after == before


def test_list_calls_filters(api, anon: httpx.Client, client: httpx.Client):
    customer_id = new_customer(client)["id"]
    trusted = {"X-Server-Key": api.server_key}
    ours = [
        start_call(
            anon, customer_id=customer_id, language="en", department="sales", headers=trusted
        ),
        start_call(
            anon, customer_id=customer_id, language="ar", department="complaints", headers=trusted
        ),
    ]

    listed = client.get("/api/calls", params={"customer_id": customer_id}).json()
    assert [c["id"] for c in listed] == [ours[1]["call_id"], ours[0]["call_id"]]  # newest first

    def ids(**params: object) -> list[int]:
        response = client.get("/api/calls", params={"customer_id": customer_id, **params})
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()]

    assert ids(language="en") == [ours[0]["call_id"]]
    assert ids(department="complaints") == [ours[1]["call_id"]]
    assert ids(status="created") == [ours[1]["call_id"], ours[0]["call_id"]]
    assert ids(status="ended") == []
    assert ids(limit=1) == [ours[1]["call_id"]]
    assert ids(limit=1, offset=1) == [ours[0]["call_id"]]
    created_at = client.get(f"/api/calls/{ours[0]['call_id']}").json()["created_at"]
    assert ids(since=created_at) == [ours[1]["call_id"], ours[0]["call_id"]]
    assert ids(until=created_at) == []
    assert ids(since="2999-01-01") == []


def test_unknown_call_is_404(client: httpx.Client):
    assert_error(client.get("/api/calls/999999999"), 404, "not_found")


def test_call_endpoints_other_than_start_need_the_key(anon: httpx.Client):
    assert_error(anon.get("/api/calls"), 401, "unauthorized")
    assert_error(anon.get("/api/calls/1"), 401, "unauthorized")


def test_a_claimed_number_does_not_pick_the_records_language(
    anon: httpx.Client, client: httpx.Client
):
    phone = unique_phone()
    customer = client.post("/api/customers", json={"name": "Omar", "phone": phone}).json()
    assert client.patch(f"/api/customers/{customer['id']}", json={"language": "en"}).is_success
    call = start_call(anon, phone=phone)  # typed: reveals nothing of the record, not even this
    metadata = json.loads(decode(call["token"])["roomConfig"]["agents"][0]["metadata"])
    assert metadata["language"] == call["language"] == "ar"


def test_an_operator_links_an_unverified_call(api, anon: httpx.Client, client: httpx.Client):
    customer = new_customer(client, name="Huda")
    started = start_call(anon, phone=unique_phone(), name="Huda")
    db = api.db()
    try:
        tickets.open_ticket(db, customer_id=None, call_id=started["call_id"], subject="Help")
    finally:
        db.close()
    unlinked = client.get("/api/calls/unlinked").json()
    [ours] = [c for c in unlinked if c["id"] == started["call_id"]]
    assert ours["caller_name"] == "Huda" and len(ours["tickets"]) == 1

    assert_error(
        client.post(f"/api/calls/{started['call_id']}/link", json={"customer_id": 999999999}),
        404,
        "not_found",
    )
    linked = client.post(
        f"/api/calls/{started['call_id']}/link", json={"customer_id": customer["id"]}
    )
    assert linked.status_code == 200, linked.text
    assert linked.json()["customer_id"] == customer["id"]
    assert linked.json()["identity_level"] == "claimed"  # linked, not proven
    [ticket] = client.get("/api/tickets", params={"customer_id": customer["id"]}).json()
    assert ticket["call_id"] == started["call_id"]
    events = client.get(f"/api/calls/{started['call_id']}").json()["events"]
    assert events[-1]["kind"] == "linked" and events[-1]["data"]["tickets"] == 1
    assert started["call_id"] not in [c["id"] for c in client.get("/api/calls/unlinked").json()]
    other = new_customer(client)["id"]
    again = client.post(f"/api/calls/{started['call_id']}/link", json={"customer_id": other})
    assert_error(again, 409, "conflict")
    assert_error(
        client.post(f"/api/calls/{started['call_id']}/link", json={}), 422, "validation_error"
    )
