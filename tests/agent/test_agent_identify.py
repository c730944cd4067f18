"""Reception notes who the caller is. A verified caller's details change their own record; a
caller ID on a trusted trunk creates the record of a new number; anyone else's details stay on
the call, for an operator to link, and no record is looked up, created or changed."""

from __future__ import annotations

import pytest

from app.crm import calls as crm_calls
from app.crm import customers as crm_customers
from app.crm import quotes as crm_quotes
from tests.agent.harness import add_customer, api_call, call_session
from tests.agent.scripted_llm import Reply, Request, call

pytestmark = pytest.mark.asyncio


def identifies(request: Request) -> Reply | str | None:
    text = request.user_text or ""
    if request.tool_output is not None:
        return "Thank you."
    if text.startswith("I'm Ali"):
        return call(
            "identify_caller",
            {
                "name": "Ali Hassan",
                "phone": "050 123 4567",
                "email": "ali@example.com",
                "service_interest": "a business website",
            },
        )
    if text.startswith("My email changed"):
        return call("update_contact_details", {"email": "ali.new@example.com"})
    if text.startswith("Quote me"):
        return call("create_quote", {"items": [{"service_code": "hosting", "quantity": 12}]})
    if text.startswith("I'm Mona"):
        return call("update_contact_details", {"name": "Mona", "phone": "+966551112233"})
    return "Welcome."


async def test_an_unverified_callers_details_stay_on_the_call(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(crm_path, identifies, metadata=metadata) as c:
        result = await c.say("I'm Ali Hassan, 0501234567, ali@example.com, I want a website")
        output = result.expect.contains_function_call_output(is_error=False).event().item.output
        assert output.startswith("Noted on this call only")
        await c.say("Thanks")
        prompt = c.llm.requests[-1].system_text
        assert "The caller is NOT verified" in prompt and "Ali Hassan (not verified)" in prompt
    assert crm_customers.list_customers(db) == []
    call_row = crm_calls.get_call(db, call_id=1)
    assert call_row["identity_level"] == "claimed" and call_row["customer_id"] is None
    assert (
        call_row["caller_name"],
        call_row["caller_phone"],
        call_row["caller_email"],
        call_row["caller_interest"],
    ) == ("Ali Hassan", "+966501234567", "ali@example.com", "a business website")


async def test_a_verified_caller_updates_their_own_record(crm_path, db):
    customer = add_customer(db, name="Ali Hassan", phone="+966501234567", email="ali@example.com")
    metadata = api_call(db, department="complaints", language="en", customer_id=customer["id"])
    async with call_session(crm_path, identifies, metadata=metadata) as c:
        await c.say("My email changed to ali.new@example.com")
    updated = crm_customers.get_customer(db, customer_id=customer["id"])
    assert updated["email"] == "ali.new@example.com" and updated["name"] == "Ali Hassan"
    assert len(crm_customers.list_customers(db)) == 1


async def test_a_new_number_verified_by_caller_id_gets_its_record_then_a_quote(crm_path, db):
    metadata = api_call(db, department="sales", language="en")
    async with call_session(
        crm_path, identifies, metadata=metadata, caller_id="+966551112233"
    ) as c:
        assert c.state.verified and c.state.customer_id is None
        await c.say("I'm Mona, my number is 0551112233")
        result = await c.say("Quote me a year of hosting")
        output = result.expect.contains_function_call_output(is_error=False).event().item.output
        assert "Total 600.00 USD" in output and "kept on this call" not in output
    mona = crm_customers.find_by_phone(db, phone="+966551112233")
    assert mona["name"] == "Mona"
    [quote] = crm_quotes.list_quotes(db, customer_id=mona["id"])
    assert quote["call_id"] == 1
    call_row = crm_calls.get_call(db, call_id=1)
    assert (call_row["identity_level"], call_row["identity_method"], call_row["customer_id"]) == (
        "verified",
        "caller_id",
        mona["id"],
    )


async def test_a_caller_id_callers_record_gets_the_proven_number_and_notes_another(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(
        crm_path, identifies, metadata=metadata, caller_id="+966559990000"
    ) as c:
        result = await c.say("I'm Ali Hassan, 0501234567, ali@example.com, I want a website")
        output = result.expect.contains_function_call_output(is_error=False).event().item.output
        assert "noted for our team to confirm" in output
    [ali] = crm_customers.list_customers(db)
    assert (ali["name"], ali["phone"]) == ("Ali Hassan", "+966559990000")
    [noted] = [
        e for e in crm_calls.list_events(db, call_id=1) if e["kind"] == "contact_change_requested"
    ]
    assert noted["data"] == {"phone": "+966501234567"}


async def test_a_verified_caller_cannot_tell_a_customers_number_from_any_other(crm_path, db):
    """Setting their phone to a number that is someone else's reads like any new number."""
    add_customer(db, name="Someone Else", phone="+966501112222")
    customer = add_customer(db, name="Ali Hassan", phone="+966501234567")
    metadata = api_call(db, department="complaints", language="en", customer_id=customer["id"])
    outputs = []

    def sets_phone(request: Request) -> Reply | str | None:
        if request.tool_output is not None:
            outputs.append(request.tool_output.output)
            return "OK."
        return call("update_contact_details", {"phone": request.user_text})

    async with call_session(crm_path, sets_phone, metadata=metadata) as c:
        await c.say("0501112222")  # a customer's number
        await c.say("0509990000")  # nobody's
    assert outputs[0] == outputs[1]
    assert crm_customers.get_customer(db, customer_id=customer["id"])["phone"] == "+966501234567"
