"""`POST /api/calls` (public): a call row, a fresh room, and a token that dispatches the agent."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest

from tests.api.conftest import TEST_AGENT_NAME, RunningApi, assert_error, unique_phone


def decode(token: str) -> dict:
    return jwt.decode(token, "secret", algorithms=["HS256"])


def start_call(anon: httpx.Client, **body: object) -> dict:
    response = anon.post("/api/calls", json=body)
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


def test_caller_phone_creates_then_links_the_customer(anon: httpx.Client, client: httpx.Client):
    local = unique_phone()
    e164 = "+966" + local[1:]
    first = start_call(anon, phone=local, name="Omar")
    customer = client.get("/api/customers/lookup", params={"phone": e164}).json()
    assert customer["phone"] == e164 and customer["name"] == "Omar"

    arabic_digits = local.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    second = start_call(anon, phone=arabic_digits)
    third = start_call(anon, phone="00966" + local[1:], name="Someone Else")
    for started in (first, second, third):
        call = client.get(f"/api/calls/{started['call_id']}").json()
        assert call["customer_id"] == customer["id"]
        assert call["caller_phone"] == e164
    # A later call's name does not overwrite the customer's.
    assert client.get(f"/api/customers/{customer['id']}").json()["name"] == "Omar"
    detail = client.get(f"/api/customers/{customer['id']}").json()
    assert {c["id"] for c in detail["calls"]} == {s["call_id"] for s in (first, second, third)}


def test_a_phone_without_a_name_creates_an_unnamed_customer(
    anon: httpx.Client, client: httpx.Client
):
    local = unique_phone()
    started = start_call(anon, phone=local)
    customer = client.get("/api/customers/lookup", params={"phone": local}).json()
    assert customer["name"] is None and customer["phone"] == "+966" + local[1:]
    assert client.get(f"/api/calls/{started['call_id']}").json()["customer_id"] == customer["id"]


def test_a_name_fills_an_unnamed_customer(anon: httpx.Client, client: httpx.Client):
    phone = unique_phone()
    created = client.post("/api/customers", json={"phone": phone}).json()
    assert created["name"] is None
    start_call(anon, phone=phone, name="Huda")
    assert client.get(f"/api/customers/{created['id']}").json()["name"] == "Huda"


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


def test_list_calls_filters(anon: httpx.Client, client: httpx.Client):
    phone = unique_phone()
    ours = [
        start_call(anon, phone=phone, language="en", department="sales"),
        start_call(anon, phone=phone, language="ar", department="complaints"),
    ]
    customer_id = client.get("/api/customers/lookup", params={"phone": phone}).json()["id"]

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


def test_a_known_caller_gets_the_language_of_their_last_call(
    anon: httpx.Client, client: httpx.Client
):
    phone = unique_phone()
    customer = client.post("/api/customers", json={"name": "Omar", "phone": phone}).json()
    assert client.patch(f"/api/customers/{customer['id']}", json={"language": "en"}).is_success
    call = start_call(anon, phone=phone)
    metadata = json.loads(decode(call["token"])["roomConfig"]["agents"][0]["metadata"])
    assert metadata["language"] == call["language"] == "en"
    # a language the call asks for wins over the record's
    asked = start_call(anon, phone=phone, language="ar")
    assert asked["language"] == "ar"
