"""Phone calls in the worker: the line dialled picks the persona and language, the call is
recorded with channel `phone`, the caller ID is a claim unless its trunk is trusted, a caller
who asks for a person gets a callback ticket when no transfer is possible, and a callback we
place greets the customer by name about their ticket."""

from __future__ import annotations

import json

import pytest

from agent.notices import NO_HUMAN
from agent.phone import PhoneCall
from app.crm import calls as crm_calls
from app.crm import tickets as crm_tickets
from app.settings import load_settings
from app.telephony.callbacks import open_callback_call
from app.telephony.lines import PhoneLine
from personas import PersonaType, get_greeting
from tests.agent.harness import add_customer, api_call, call_session
from tests.agent.scripted_llm import Reply, Request, call
from tests.agent.test_agent_greeting import greeting_text

pytestmark = pytest.mark.asyncio

PHONE_DISPATCH = json.dumps({"channel": "phone"})
SALES_LINE = PhoneLine(number="+15550102", department=PersonaType.SALES, language="en")
CUSTOMER = {"name": "Omar Khalil", "phone": "+966501234567", "email": "omar@example.com"}


def caller(number: str = "+966501234567", dialled: str = "+15550102") -> PhoneCall:
    return PhoneCall(
        participant_identity=f"sip_{number}",
        caller_number=number,
        international=True,
        dialled_number=dialled,
        trunk_id="ST_test",
    )


def asks_for_a_person(request: Request) -> Reply | str | None:
    if request.tool_output is not None:
        return request.tool_output.output
    if request.user_text:
        return call("transfer_to_human", {"reason": "wants to talk to a person"})
    return None


async def test_the_line_dialled_picks_persona_and_language_and_the_call_is_a_phone_call(
    crm_path, db
):
    add_customer(db, **CUSTOMER)
    async with call_session(
        crm_path, lambda r: "Hello", metadata=PHONE_DISPATCH, phone=caller(), line=SALES_LINE
    ) as c:
        assert c.state.persona is PersonaType.SALES and c.state.language == "en"
        assert greeting_text(c) == get_greeting(PersonaType.SALES, "en")
        assert "This is a phone call." in c.agent.instructions
        # an untrusted caller ID is a claim: no record is read, the greeting has no name
        assert "NOT verified" in c.agent.instructions
        assert CUSTOMER["name"] not in c.agent.instructions
    row = crm_calls.get_call_detail(db, call_id=c.state.call_id)
    assert (row["channel"], row["direction"], row["dialled_number"]) == (
        "phone",
        "inbound",
        "+15550102",
    )
    assert (row["identity_level"], row["caller_phone"], row["customer_id"]) == (
        "claimed",
        CUSTOMER["phone"],
        None,
    )
    assert "metadata_invalid" not in [e["kind"] for e in row["events"]]


async def test_a_trusted_caller_id_is_greeted_by_name(crm_path, db):
    customer = add_customer(db, **CUSTOMER)
    async with call_session(
        crm_path,
        lambda r: "Hello",
        metadata=PHONE_DISPATCH,
        phone=caller(),
        line=SALES_LINE,
        caller_id=CUSTOMER["phone"],
    ) as c:
        assert c.state.customer_id == customer["id"]
        assert greeting_text(c) == get_greeting(PersonaType.SALES, "en", CUSTOMER["name"])
    row = crm_calls.get_call(db, call_id=c.state.call_id)
    assert (row["identity_level"], row["identity_method"]) == ("verified", "caller_id")


@pytest.mark.parametrize(
    ("channel", "human_line", "why"),
    [
        ("web", "sip:desk@127.0.0.1", "web"),
        ("phone", "", "no_destination"),
        # outside a LiveKit job the REFER cannot be sent: the failure path
        ("phone", "sip:desk@127.0.0.1", "failed"),
    ],
)
async def test_no_transfer_to_a_person_leaves_a_callback_ticket(
    crm_path, db, channel, human_line, why
):
    if channel == "web":
        options = {"metadata": api_call(db, language="en", phone="+966509998877")}
    else:
        options = {"metadata": PHONE_DISPATCH, "phone": caller("+966509998877"), "line": SALES_LINE}
    async with call_session(crm_path, asks_for_a_person, human_line=human_line, **options) as c:
        result = await c.say("I want to talk to a real person")
        result.expect.contains_function_call(name="transfer_to_human")
        said = [
            e.item.text_content
            for e in result.events
            if e.type == "message" and e.item.role == "assistant"
        ]
        reply = said[-1]
    tickets = crm_tickets.list_tickets(db, category="callback")
    assert len(tickets) == 1 and tickets[0]["call_id"] == c.state.call_id
    assert tickets[0]["number"] in reply and NO_HUMAN[why]["en"] in reply
    events = crm_calls.list_events(db, call_id=c.state.call_id)
    unavailable = [e for e in events if e["kind"] == "human_transfer_unavailable"]
    assert unavailable and unavailable[0]["data"]["why"] == why
    assert unavailable[0]["data"]["reason"] == "wants to talk to a person"
    assert "human_transfer" not in [e["kind"] for e in events]


async def test_a_callback_greets_the_customer_by_name_about_their_ticket(crm_path, db):
    customer = add_customer(db, **CUSTOMER, language="en")
    ticket = crm_tickets.open_ticket(
        db, customer_id=customer["id"], subject="Router keeps rebooting", category="technical"
    )
    settings = load_settings(
        livekit_url="ws://127.0.0.1:7880",
        livekit_api_key="devkey",
        livekit_api_secret="secret",
        operator_api_key="k" * 20 + "1",
        sip_outbound_address="127.0.0.1:5099",
        sip_outbound_number="+15550100",
    )
    row = open_callback_call(db, settings, kind="ticket", item_id=ticket["id"], room="cb-1")
    metadata = json.dumps(
        {"call_id": row["id"], "department": "complaints", "language": "en", "channel": "phone"}
    )
    async with call_session(
        crm_path, lambda r: "Hello", metadata=metadata, room="cb-1", phone=caller()
    ) as c:
        assert greeting_text(c) == get_greeting(
            PersonaType.COMPLAINTS, "en", CUSTOMER["name"], callback=True
        )
        assert greeting_text(c) == (
            "Hello, this is Mohammed from Ornina Support, returning a call. May I speak with "
            "Omar Khalil?"
        )
        assert "Until the person who answered has said they are the customer" in (
            c.agent.instructions
        )
        assert "Router keeps rebooting" in c.agent.instructions
        assert ticket["number"] in c.agent.instructions
    row = crm_calls.get_call(db, call_id=row["id"])
    assert (row["direction"], row["identity_method"], row["callback_ticket_id"]) == (
        "outbound",
        "callback",
        ticket["id"],
    )
