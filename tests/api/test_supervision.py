"""Supervision routes without a LiveKit server: the live list, the listener's token (hidden,
subscribe-only, one room), and who may not get one. tests/browser/test_supervision.py listens
in, takes over and hands back a real call."""

from __future__ import annotations

import httpx
import jwt

from app.crm import calls as crm_calls
from app.livekit_tokens import new_operator_identity, takeover_token
from app.settings import load_settings
from tests.api.conftest import RunningApi, assert_error


def decode(token: str) -> dict:
    return jwt.decode(token, "secret", algorithms=["HS256"])


def live_call(api: RunningApi, anon: httpx.Client) -> dict:
    started = anon.post("/api/calls", json={"language": "en", "name": "Rami"}).json()
    db = api.db()
    try:
        crm_calls.mark_agent_joined(db, call_id=started["call_id"])
        crm_calls.add_event(
            db, call_id=started["call_id"], kind="persona_entered", persona="reception"
        )
        crm_calls.add_turn(
            db, call_id=started["call_id"], role="agent", persona="reception", text="Welcome"
        )
    finally:
        db.close()
    return started


def test_the_live_list_shows_calls_in_progress_with_their_last_caption(
    api: RunningApi, client: httpx.Client, anon: httpx.Client
):
    started = live_call(api, anon)
    live = {c["id"]: c for c in client.get("/api/calls/live").json()}
    call = live[started["call_id"]]
    assert (call["persona"], call["language"], call["transfers"]) == ("reception", "en", 0)
    assert call["last_caption"]["text"] == "Welcome" and call["taken_over_by"] is None
    assert call["identity_level"] == "claimed"
    db = api.db()
    try:
        crm_calls.end_call(db, call_id=started["call_id"], outcome="completed")
    finally:
        db.close()
    assert started["call_id"] not in {c["id"] for c in client.get("/api/calls/live").json()}


def test_listening_in_gives_a_hidden_subscribe_only_token_for_that_room_only(
    api: RunningApi, client: httpx.Client, anon: httpx.Client
):
    started = live_call(api, anon)
    response = client.post(f"/api/calls/{started['call_id']}/listen")
    assert response.status_code == 201, response.text
    body = response.json()
    grants = decode(body["token"])["video"]
    assert grants["room"] == started["room"] and grants["roomJoin"] is True
    assert grants["hidden"] is True and grants["canSubscribe"] is True
    assert grants["canPublish"] is False and grants["canPublishData"] is False
    events = client.get(f"/api/calls/{started['call_id']}").json()["events"]
    joined = [e for e in events if e["kind"] == "supervisor_joined"]
    assert joined and joined[0]["data"]["operator"] == "installation-key"


def test_a_caller_or_no_key_gets_no_operator_token(api: RunningApi, anon: httpx.Client):
    started = live_call(api, anon)
    for action in ("listen", "takeover", "handback"):
        path = f"/api/calls/{started['call_id']}/{action}"
        assert_error(anon.post(path, json={}), 401, "unauthorized")
        # the caller's own LiveKit token is no operator key
        caller = httpx.Client(
            base_url=api.base_url, headers={"Authorization": f"Bearer {started['token']}"}
        )
        assert_error(caller.post(path, json={}), 401, "unauthorized")
        caller.close()


def test_a_call_not_in_progress_cannot_be_supervised(client: httpx.Client, anon: httpx.Client):
    waiting = anon.post("/api/calls", json={"language": "ar"}).json()
    for action in ("listen", "takeover"):
        error = assert_error(client.post(f"/api/calls/{waiting['call_id']}/{action}"), 409)
        assert "not in progress" in error["message"]


def test_the_takeover_token_speaks_in_one_room_with_a_microphone_and_names_no_one():
    settings = load_settings(
        livekit_url="ws://127.0.0.1:7880",
        livekit_api_key="devkey",
        livekit_api_secret="secret",
        operator_api_key="k" * 20 + "1",
    )
    identity = new_operator_identity()
    claims = decode(takeover_token(settings, room="call-1", identity=identity))
    grants = claims["video"]
    assert grants["room"] == "call-1" and grants["canPublish"] is True
    assert grants["canPublishSources"] == ["microphone"] and grants["canPublishData"] is False
    assert not grants.get("hidden")
    # the caller's page sees this participant: a random identity, no login, no name
    assert claims["sub"] == identity and claims["name"] == "Ornina"
    assert claims["attributes"] == {"ornina.role": "operator"}
    assert claims["exp"] - claims["nbf"] <= 300
