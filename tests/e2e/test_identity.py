"""Caller identity on real calls through the bundle: a number typed on the call page unlocks
nothing until the caller says a one-time code; a call the trusted backend started reads the
customer's own tickets; a phone call (a SIP participant) from a trusted trunk is verified by
its caller ID, and nothing else that merely carries the same attributes is."""

from __future__ import annotations

import json
import secrets

import pytest
from livekit import api as lk_api

from agent.identity import VERIFY_OFFER
from personas import get_greeting
from tests.e2e.bundle import Bundle, running_bundle
from tests.e2e.caller import Caller
from tests.provider_double.client import ProviderDouble
from tests.support import wait_until

SERVER_KEY = "backend-" + secrets.token_hex(12)
TRUSTED_TRUNK = "ST_e2e_trusted"
TICKET = "Router keeps rebooting"
READ_BACK = "Your ticket about the router is open and due tomorrow."
VERIFIED = "Thank you, you are verified."
ASK = "Please check my tickets."


@pytest.fixture(scope="module")
def bundle(double: ProviderDouble) -> Bundle:
    env = {"TRUSTED_BACKEND_KEY": SERVER_KEY, "SIP_TRUSTED_TRUNKS": TRUSTED_TRUNK}
    with running_bundle(double.base_url, "test_identity", extra_env=env) as running:
        yield running


def customer_with_ticket(bundle: Bundle, name: str, phone: str) -> dict:
    customer = bundle.api(
        "POST", "/api/customers", operator=True, json={"name": name, "phone": phone}
    )
    assert customer.status_code == 201, customer.text
    ticket = bundle.api(
        "POST",
        "/api/tickets",
        operator=True,
        json={"customer_id": customer.json()["id"], "subject": TICKET, "category": "technical"},
    )
    assert ticket.status_code == 201, ticket.text
    return customer.json()


def ended_call(bundle: Bundle, call_id: int) -> dict:
    def ended() -> dict | None:
        call = bundle.api("GET", f"/api/calls/{call_id}", operator=True).json()
        return call if call["status"] == "ended" else None

    return wait_until(ended, timeout=30, what="the call to be closed in the CRM")


def tickets_rules(code: str = "") -> list[dict]:
    """The model asks for the caller's tickets and says what it may: the offer to verify, or
    the ticket; and checks a code the caller says."""
    return [
        {
            "match": {"last_role": "user", "last_contains": "tickets"},
            "reply": {"tool_calls": [{"name": "my_tickets", "arguments": {}}]},
        },
        {
            "match": {"last_role": "user", "last_contains": "code"},
            "reply": {"tool_calls": [{"name": "verify_identity", "arguments": {"code": code}}]},
        },
        {
            "match": {"last_role": "tool", "last_contains": "Refused"},
            "reply": {"text": VERIFY_OFFER["en"]},
        },
        {"match": {"last_role": "tool", "last_contains": "Verified"}, "reply": {"text": VERIFIED}},
        {"match": {"last_role": "tool", "last_contains": TICKET}, "reply": {"text": READ_BACK}},
    ]


async def say_and_hear(caller: Caller, double: ProviderDouble, text: str) -> None:
    await double.autterances([{"text": text, "language": "en"}])
    spoke_until = await caller.say(text, "en")
    await caller.wait_for_speech(since=spoke_until, timeout=30)
    await caller.wait_for_quiet(seconds=1.5)


async def test_a_claimed_number_hears_nothing_of_the_record_until_the_code(
    bundle: Bundle, double: ProviderDouble
):
    layla = customer_with_ticket(bundle, "Layla Haddad", "+966501230001")
    issued = bundle.api(
        "POST", f"/api/customers/{layla['id']}/verification-code", operator=True, json={}
    ).json()
    await double.ascript(tickets_rules(issued["code"]))
    caller = Caller(bundle.api_url)
    await caller.join(language="en", department="complaints", phone="0501230001")  # typed
    call_id = caller.call["call_id"]
    try:
        await caller.wait_for_agent()
        await caller.wait_for_speech(since=caller.joined_at)
        await caller.wait_for_quiet()
        await say_and_hear(caller, double, ASK)
        await say_and_hear(caller, double, "My code is " + " ".join(issued["code"]))
        await say_and_hear(caller, double, ASK)
    finally:
        await caller.hang_up()

    call = ended_call(bundle, call_id)
    agent = [t["text"] for t in call["transcript"] if t["role"] == "agent"]
    assert agent == [get_greeting("complaints", "en"), VERIFY_OFFER["en"], VERIFIED, READ_BACK]
    kinds = [e["kind"] for e in call["events"]]
    assert kinds.index("identity_required") < kinds.index("identity_verified")
    assert (call["identity_level"], call["identity_method"], call["customer_id"]) == (
        "verified",
        "in_call_code",
        layla["id"],
    )
    # what the model was given before the code: nothing of Layla's record, not even her name
    chats = (await double.alog())["chat"]
    verified_at = next(i for i, c in enumerate(chats) if "Verified" in c["last_text"])
    before = json.dumps([c["messages"] for c in chats[:verified_at]], ensure_ascii=False)
    assert "Layla" not in before and TICKET not in before
    after = json.dumps([c["messages"] for c in chats[verified_at:]], ensure_ascii=False)
    assert TICKET in after


async def test_a_verified_web_call_from_the_trusted_backend_reads_its_own_tickets(
    bundle: Bundle, double: ProviderDouble
):
    omar = customer_with_ticket(bundle, "Omar Saleh", "+966501230002")
    await double.ascript(tickets_rules())
    started = bundle.api(
        "POST",
        "/api/calls",
        json={"language": "en", "department": "complaints", "customer_id": omar["id"]},
        headers={"X-Server-Key": SERVER_KEY},
    )
    assert started.status_code == 201, started.text
    caller = Caller(bundle.api_url)
    await caller.join_call(started.json())
    try:
        await caller.wait_for_agent()
        await caller.wait_for_speech(since=caller.joined_at)
        await caller.wait_for_quiet()
        await say_and_hear(caller, double, ASK)
    finally:
        await caller.hang_up()
    call = ended_call(bundle, started.json()["call_id"])
    agent = [t["text"] for t in call["transcript"] if t["role"] == "agent"]
    # his first answered call: greeted by name, not welcomed back
    assert agent == [get_greeting("complaints", "en", "Omar Saleh"), READ_BACK]
    assert call["identity_method"] == "trusted_token"


def phone_participant_token(
    bundle: Bundle, room: str, *, kind: str, trunk: str, number: str
) -> str:
    """What LiveKit's SIP service gives a phone caller: a SIP-kind participant whose attributes
    carry the caller ID and the trunk, in a room whose dispatch rule sends our agent."""
    metadata = json.dumps({"department": "reception", "language": "en"})
    return (
        lk_api.AccessToken("devkey", "secret")
        .with_identity(f"sip_{number}")
        .with_kind(kind)
        .with_attributes({"sip.phoneNumber": number, "sip.trunkID": trunk})
        .with_grants(
            lk_api.VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=True)
        )
        .with_room_config(
            lk_api.RoomConfiguration(
                agents=[lk_api.RoomAgentDispatch(agent_name=bundle.agent_name, metadata=metadata)]
            )
        )
        .to_jwt()
    )


@pytest.mark.parametrize(
    ("kind", "trunk", "number", "verified"),
    [
        ("sip", TRUSTED_TRUNK, "+966501230011", True),
        ("sip", "ST_some_other_trunk", "+966501230012", False),
        # the same attributes on a web participant: no phone call at all
        ("standard", TRUSTED_TRUNK, "+966501230013", False),
    ],
    ids=["trusted-trunk", "untrusted-trunk", "not-a-phone-call"],
)
async def test_caller_id_verifies_a_phone_call_only_from_a_trusted_trunk(
    bundle: Bundle, double: ProviderDouble, kind: str, trunk: str, number: str, verified: bool
):
    returning = bundle.api(
        "POST", "/api/customers", operator=True, json={"name": "Huda Nasser", "phone": number}
    )
    assert returning.status_code == 201, returning.text
    returning = returning.json()
    # Huda called before: a web call her account page started, answered by the agent
    first = bundle.api(
        "POST",
        "/api/calls",
        json={"language": "en", "customer_id": returning["id"]},
        headers={"X-Server-Key": SERVER_KEY},
    ).json()
    caller = Caller(bundle.api_url)
    await caller.join_call(first)
    try:
        await caller.wait_for_speech(since=caller.joined_at)
    finally:
        await caller.hang_up()
    ended_call(bundle, first["call_id"])

    room = f"phone-{secrets.token_hex(6)}"
    token = phone_participant_token(bundle, room, kind=kind, trunk=trunk, number=number)
    caller = Caller(bundle.api_url)
    await caller.join_call({"livekit_url": bundle.livekit_url, "token": token})
    try:
        await caller.wait_for_agent()
        await caller.wait_for_speech(since=caller.joined_at)
    finally:
        await caller.hang_up()

    def phone_call() -> dict | None:
        calls = bundle.api("GET", "/api/calls", operator=True, params={"limit": 20}).json()
        return next((c for c in calls if c["room"] == room and c["status"] == "ended"), None)

    call = ended_call(bundle, wait_until(phone_call, timeout=30, what="the phone call")["id"])
    greeting = call["transcript"][0]["text"]
    if verified:
        assert greeting == get_greeting("reception", "en", "Huda Nasser", returning=True)
        assert (call["identity_level"], call["identity_method"], call["customer_id"]) == (
            "verified",
            "caller_id",
            returning["id"],
        )
    else:
        assert greeting == get_greeting("reception", "en")
        assert call["customer_id"] is None
        if kind == "sip":
            # a phone call's caller ID from an untrusted trunk is a claim, like a typed number
            assert (call["identity_level"], call["caller_phone"]) == ("claimed", number)
        else:
            assert (call["identity_level"], call["caller_phone"]) == ("anonymous", None)
