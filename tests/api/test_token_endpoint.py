"""`POST /api/token`: LiveKit's standard token endpoint on the same logic as `/api/calls`."""

from __future__ import annotations

import json

import jwt
import pytest

from tests.api.conftest import TEST_AGENT_NAME, assert_error, new_customer, running_api


def decode(token: str) -> dict:
    return jwt.decode(token, "secret", algorithms=["HS256"], options={"verify_aud": False})


def test_valid_request_gives_201_and_a_token_dispatching_our_agent_once(anon, client):
    response = anon.post(
        "/api/token",
        json={
            "participant_identity": "web-user-1",
            "participant_name": "Lina",
            "participant_attributes": {"language": "en", "department": "sales"},
            "room_config": {"agents": [{"agent_name": TEST_AGENT_NAME}]},
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["server_url"].startswith("ws://127.0.0.1:")
    claims = decode(body["participant_token"])
    assert claims["sub"] == "web-user-1"
    assert claims["name"] == "Lina"
    assert claims["video"]["room"] == body["room_name"]
    (dispatch,) = claims["roomConfig"]["agents"]
    assert dispatch["agentName"] == TEST_AGENT_NAME
    metadata = json.loads(dispatch["metadata"])
    assert metadata["call_id"] == body["call_id"]
    assert (metadata["language"], metadata["department"], metadata["name"]) == (
        "en",
        "sales",
        "Lina",
    )
    call = client.get(f"/api/calls/{body['call_id']}").json()
    assert call["room"] == body["room_name"] and call["department"] == "sales"


def test_empty_body_dispatches_our_agent_in_the_default_language(anon):
    response = anon.post("/api/token", json={})
    assert response.status_code == 201, response.text
    (dispatch,) = decode(response.json()["participant_token"])["roomConfig"]["agents"]
    assert dispatch["agentName"] == TEST_AGENT_NAME
    assert json.loads(dispatch["metadata"])["language"] == "ar"


def test_arabic_attributes_round_trip(anon, client):
    attributes = {"language": "ar", "name": "‏سارة العلي", "phone": "٠٥٠٩٨٧٦٥٤٣", "note": "مرحبا"}
    response = anon.post("/api/token", json={"participant_attributes": attributes})
    assert response.status_code == 201, response.text
    claims = decode(response.json()["participant_token"])
    assert claims["attributes"] == attributes
    metadata = json.loads(claims["roomConfig"]["agents"][0]["metadata"])
    assert metadata["name"] == "‏سارة العلي"
    assert metadata["phone"] == "+966509876543"
    call = client.get(f"/api/calls/{metadata['call_id']}").json()
    assert call["caller_name"] == "‏سارة العلي" and call["caller_phone"] == "+966509876543"


@pytest.mark.parametrize(
    "body, status",
    [
        ({"room_name": "my-room"}, 403),
        ({"room_config": {"agents": [{"agent_name": "someone-else"}]}}, 403),
        ({"room_config": {"agents": [{"agent_name": TEST_AGENT_NAME}, {"agent_name": ""}]}}, 403),
        ({"room_config": {"agents": [{"agent_name": TEST_AGENT_NAME, "metadata": "{}"}]}}, 403),
        ({"room_config": {"name": "x"}}, 403),
        ({"room_config": {"max_participants": 50}}, 403),
        ({"room_config": {"agents": ["nope"]}}, 422),
        ({"participant_attributes": {"language": "fr"}}, 422),
        ({"participant_attributes": {"department": "billing"}}, 422),
        ({"participant_attributes": {"phone": "not a phone"}}, 422),
        ({"participant_attributes": {"language": 5}}, 422),
        # a web caller may not pose as a phone call from a trusted trunk, nor as the agent
        ({"participant_attributes": {"sip.phoneNumber": "+966509998877"}}, 403),
        ({"participant_attributes": {"SIP.trunkID": "ST_trusted"}}, 403),
        ({"participant_attributes": {"lk.agent.state": "speaking"}}, 403),
        ({"participant_attributes": {"ornina.persona": "sales"}}, 403),
        ({"participant_attributes": {"customer_id": "1"}}, 401),  # needs the server key
        ({"participant_attributes": {f"k{i}": "v" for i in range(17)}}, 422),
        ({"participant_identity": "has spaces"}, 422),
        ({"participant_name": "x" * 500}, 422),
        ({"unknown_field": 1}, 422),
    ],
)
def test_refused_fields_give_their_4xx_with_a_json_error(anon, body, status):
    assert_error(anon.post("/api/token", json=body), status)


def test_a_trusted_backend_names_the_customer_of_a_verified_call(api, anon, client):
    customer = new_customer(client, name="Huda")
    body = {"participant_attributes": {"customer_id": str(customer["id"]), "language": "en"}}
    wrong = anon.post("/api/token", json=body, headers={"X-Server-Key": "x" * 32})
    assert_error(wrong, 401, "unauthorized")
    response = anon.post("/api/token", json=body, headers={"X-Server-Key": api.server_key})
    assert response.status_code == 201, response.text
    call = client.get(f"/api/calls/{response.json()['call_id']}").json()
    assert (call["identity_level"], call["identity_method"], call["customer_id"]) == (
        "verified",
        "trusted_token",
        customer["id"],
    )
    unknown = {"participant_attributes": {"customer_id": "999999999"}}
    missing = anon.post("/api/token", json=unknown, headers={"X-Server-Key": api.server_key})
    assert_error(missing, 404, "not_found")


def test_a_configured_key_is_required_in_the_header():
    with running_api({"TOKEN_ENDPOINT_KEY": "call-key-0123456789"}) as api:
        anon = api.client(key=None)
        assert_error(anon.post("/api/token", json={}), 401)
        assert_error(anon.post("/api/token", json={}, headers={"X-Call-Key": "wrong"}), 401)
        good = anon.post("/api/token", json={}, headers={"X-Call-Key": "call-key-0123456789"})
        assert good.status_code == 201, good.text


def test_shares_the_call_rate_limit():
    with running_api({"CALLS_RATE_LIMIT_PER_MINUTE": "2"}) as api:
        anon = api.client(key=None)
        assert anon.post("/api/calls", json={}).status_code == 201
        assert anon.post("/api/token", json={}).status_code == 201
        limited = anon.post("/api/token", json={})
        assert_error(limited, 429)
        assert int(limited.headers["Retry-After"]) >= 1


def test_cors_is_off_by_default_and_opt_in_for_the_token_endpoint_only(anon):
    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    assert (
        "access-control-allow-origin" not in anon.options("/api/token", headers=preflight).headers
    )
    with running_api({"TOKEN_ENDPOINT_CORS_ORIGINS": "https://app.example.com"}) as api:
        browser = api.client(key=None)
        allowed = browser.options("/api/token", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        created = browser.post("/api/token", json={}, headers={"Origin": "https://app.example.com"})
        assert created.status_code == 201
        assert created.headers["access-control-allow-origin"] == "https://app.example.com"
        # the operator key cannot be sent cross-origin
        operator = {**preflight, "Access-Control-Request-Method": "GET"}
        operator["Access-Control-Request-Headers"] = "x-api-key"
        assert browser.options("/api/customers", headers=operator).status_code == 400
        other = {**preflight, "Origin": "https://evil.example.com"}
        assert browser.options("/api/token", headers=other).status_code == 400
