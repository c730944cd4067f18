"""Reception identifies or creates the caller's own record; any persona can update it."""

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


async def test_new_caller_gets_a_record_linked_to_the_call(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(crm_path, identifies, metadata=metadata) as c:
        await c.say("I'm Ali Hassan, 0501234567, ali@example.com, I want a website")
        await c.say("Thanks")
        assert "record is on file (name: Ali Hassan)" in c.llm.requests[-1].system_text
    customer = crm_customers.find_by_phone(db, phone="+966501234567")
    assert (customer["name"], customer["email"], customer["service_interest"]) == (
        "Ali Hassan",
        "ali@example.com",
        "a business website",
    )
    assert crm_calls.get_call(db, call_id=1)["customer_id"] == customer["id"]


async def test_known_caller_updates_their_own_record(crm_path, db):
    customer = add_customer(db, name="Ali Hassan", phone="+966501234567", email="ali@example.com")
    metadata = api_call(db, department="complaints", language="en", phone="+966501234567")
    async with call_session(crm_path, identifies, metadata=metadata) as c:
        await c.say("My email changed to ali.new@example.com")
    updated = crm_customers.get_customer(db, customer_id=customer["id"])
    assert updated["email"] == "ali.new@example.com" and updated["name"] == "Ali Hassan"
    assert len(crm_customers.list_customers(db)) == 1


async def test_sales_can_create_the_record_then_quote(crm_path, db):
    metadata = api_call(db, department="sales", language="en")
    async with call_session(crm_path, identifies, metadata=metadata) as c:
        await c.say("I'm Mona, my number is 0551112233")
        result = await c.say("Quote me a year of hosting")
        output = result.expect.contains_function_call_output(is_error=False).event().item.output
        assert "Total 600.00 USD" in output
    mona = crm_customers.find_by_phone(db, phone="+966551112233")
    [quote] = crm_quotes.list_quotes(db, customer_id=mona["id"])
    assert quote["call_id"] == 1
