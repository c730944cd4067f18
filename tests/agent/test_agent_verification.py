"""A claimed number unlocks nothing until the caller proves who they are with a one-time code.

The caller typed an existing customer's phone number on the public page: the greeting has no
name, their tickets, quotes and details are refused with a spoken explanation and an offer to
verify; after the code they work; after too many wrong codes they stay locked, for the call
and (across calls) for the record.
"""

from __future__ import annotations

import re

import pytest

from agent.identity import LOCKED, VERIFY_OFFER
from app.crm import calls as crm_calls
from app.crm import customers as crm_customers
from app.crm import identity as crm_identity
from app.crm import quotes as crm_quotes
from app.crm import tickets as crm_tickets
from personas import get_greeting
from tests.agent.harness import add_customer, api_call, call_session
from tests.agent.scripted_llm import Reply, Request, call

pytestmark = pytest.mark.asyncio

LAYLA = {"name": "Layla Haddad", "phone": "+966501112233", "email": "layla@example.com"}
LAYLA_DATA = ("Layla", "Haddad", "layla@", "Leaking roof", "QT-000001", "TKT-000001")


def follows(output: str) -> str:
    """What a model that follows the tool's answer says: the words it was told to say to the
    caller, or else the answer itself."""
    quoted = re.search(r'Tell the caller, in \w+: "(.+)"', output)
    return quoted.group(1) if quoted else output


def reads_back(words_to_tool: dict[str, tuple[str, dict]]):
    """A model that calls the tool the caller's words name, then says what the tool said."""

    def responder(request: Request) -> Reply | str | None:
        if request.tool_output is not None:
            return follows(request.tool_output.output)
        text = request.user_text or ""
        for start, (tool, arguments) in words_to_tool.items():
            if text.startswith(start):
                return call(tool, arguments)
        return "How can I help?"

    return responder


@pytest.fixture
def layla(db) -> dict:
    customer = add_customer(db, **LAYLA)
    crm_tickets.open_ticket(
        db, customer_id=customer["id"], subject="Leaking roof", category="service"
    )
    crm_quotes.create_quote(
        db, customer_id=customer["id"], items=[{"service_code": "website", "quantity": 1}]
    )
    return crm_customers.get_customer(db, customer_id=customer["id"])


def spoken(result) -> str:
    return " ".join(e.item.text_content or "" for e in result.events if e.type == "message")


@pytest.mark.parametrize("language", ["en", "ar"])
async def test_a_claimed_number_is_refused_until_the_code_then_works(crm_path, db, layla, language):
    script = {
        "My tickets": ("my_tickets", {}),
        "New email": ("update_contact_details", {"email": "new@example.com"}),
        "My code": ("verify_identity", {"code": "", "phone": "0501112233"}),
    }
    responder = reads_back(script)
    metadata = api_call(db, language=language, phone=LAYLA["phone"], department="complaints")
    async with call_session(crm_path, responder, metadata=metadata) as c:
        assert c.greeting.expect.contains_message(role="assistant").event().item.text_content == (
            get_greeting("complaints", language)
        )
        result = await c.say("My tickets")
        assert result.expect.contains_function_call_output(is_error=True)
        assert VERIFY_OFFER[language] in spoken(result)
        result = await c.say("New email")  # noted on the call only
        for data in LAYLA_DATA:
            assert data not in spoken(result)
        assert crm_customers.get_customer(db, customer_id=layla["id"]) == layla

        code = crm_identity.issue_code(db, customer_id=layla["id"])["code"]
        script["My code"] = ("verify_identity", {"code": code, "phone": "0501112233"})
        result = await c.say("My code")
        output = result.expect.contains_function_call_output(is_error=False).event().item.output
        assert output.startswith("Verified: the caller is Layla Haddad")
        assert c.state.customer_id == layla["id"]
        result = await c.say("My tickets")
        assert "Leaking roof" in spoken(result)
        await c.say("New email")
    assert crm_customers.get_customer(db, customer_id=layla["id"])["email"] == "new@example.com"
    events = [e["kind"] for e in crm_calls.list_events(db, call_id=1)]
    assert events.count("identity_required") == 1
    assert "identity_verified" in events
    row = crm_calls.get_call(db, call_id=1)
    assert (row["identity_level"], row["identity_method"], row["customer_id"]) == (
        "verified",
        "in_call_code",
        layla["id"],
    )


async def test_quotes_are_refused_to_a_claim_too(crm_path, db, layla):
    responder = reads_back({"My quotes": ("my_quotes", {"quote_number": "QT-000001"})})
    metadata = api_call(db, language="en", phone=LAYLA["phone"], department="sales")
    async with call_session(crm_path, responder, metadata=metadata) as c:
        result = await c.say("My quotes please")
        assert result.expect.contains_function_call_output(is_error=True)
        assert VERIFY_OFFER["en"] in spoken(result) and "QT-000001" not in spoken(result)


async def test_too_many_wrong_codes_lock_the_call_and_then_the_record(crm_path, db, layla):
    code = crm_identity.issue_code(db, customer_id=layla["id"])["code"]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    attempt = {"code": wrong}

    def responder(request: Request) -> Reply | str | None:
        if request.tool_output is not None:
            return follows(request.tool_output.output)
        if request.user_text and "code" in request.user_text:
            return call("verify_identity", dict(attempt))
        if request.user_text and "tickets" in request.user_text:
            return call("my_tickets", {})
        return None

    metadata = api_call(db, language="en", phone=LAYLA["phone"], department="complaints")
    async with call_session(crm_path, responder, metadata=metadata) as c:
        for left in (2, 1):
            result = await c.say("my code")
            assert f"{left} attempt(s) left" in spoken(result)
        result = await c.say("my code")
        assert LOCKED["en"] in spoken(result)
        attempt["code"] = code  # the right code, too late for this call
        result = await c.say("my code, the right one")
        assert LOCKED["en"] in spoken(result) and not c.state.verified
        result = await c.say("my tickets")
        assert "Leaking roof" not in spoken(result)

    # the attacker redials: two more wrong codes lock the record for a while
    attempt["code"] = wrong
    metadata = api_call(db, room="redial", language="en", phone=LAYLA["phone"])
    async with call_session(crm_path, responder, metadata=metadata, room="redial") as c:
        for _ in range(2):
            await c.say("my code")
    attempt["code"] = code
    metadata = api_call(db, room="third", language="en", phone=LAYLA["phone"])
    async with call_session(crm_path, responder, metadata=metadata, room="third") as c:
        result = await c.say("my code")
        assert "not accepted" in spoken(result) and not c.state.verified
    assert crm_customers.get_customer(db, customer_id=layla["id"]) == layla
    for call_id in (1, 2, 3):
        assert crm_calls.get_call(db, call_id=call_id)["customer_id"] is None


async def test_a_ticket_opened_before_verifying_becomes_the_customers(crm_path, db, layla):
    script = {
        "Broken": ("open_ticket", {"subject": "Broken login", "category": "account"}),
        "Code": ("verify_identity", {"code": ""}),
    }
    metadata = api_call(db, language="en", phone=LAYLA["phone"], department="complaints")
    async with call_session(crm_path, reads_back(script), metadata=metadata) as c:
        result = await c.say("Broken login")
        assert "kept on this call" in spoken(result)
        [unlinked] = crm_tickets.list_tickets(db, category="account")
        assert unlinked["customer_id"] is None
        code = crm_identity.issue_code(db, customer_id=layla["id"])["code"]
        script["Code"] = ("verify_identity", {"code": code})  # the number typed on the page
        await c.say("Code")
    [ticket] = crm_tickets.list_tickets(db, category="account")
    assert ticket["customer_id"] == layla["id"]


async def test_a_verified_call_from_the_trusted_backend_reads_its_own_tickets(crm_path, db, layla):
    responder = reads_back({"Status": ("my_tickets", {})})
    metadata = api_call(db, language="en", department="complaints", customer_id=layla["id"])
    async with call_session(crm_path, responder, metadata=metadata) as c:
        assert c.state.identity_method == "trusted_token"
        result = await c.say("Status of my tickets?")
        assert "Leaking roof" in spoken(result)
