"""Sarah's work: catalog, quotes priced from it and read back, follow-ups; every row belongs to
this call and this caller."""

from __future__ import annotations

import re

import pytest

from app.crm import follow_ups as crm_follow_ups
from app.crm import quotes as crm_quotes
from tests.agent.harness import add_customer, api_call, call_session
from tests.agent.scripted_llm import Reply, Request, call

pytestmark = pytest.mark.asyncio


def reads_back(request: Request) -> str:
    """A model that reads the tool's result back to the caller, as the prompt asks."""
    return f"Here it is: {request.tool_output.output}"


def salesperson(request: Request) -> Reply | str | None:
    text = request.user_text or ""
    if request.tool_output is not None:
        return reads_back(request)
    if "what do you offer" in text:
        return call("list_services")
    if "quote" in text:
        return call(
            "create_quote",
            {
                "items": [
                    {"service_code": "website", "quantity": 1},
                    {"service_code": "mobile-app", "quantity": 2},
                ]
            },
        )
    if "think about it" in text:
        return call("schedule_follow_up", {"days_from_now": 3, "note": "website quote"})
    if "my quotes" in text:
        return call("my_quotes")
    return "How can I help?"


async def test_quote_from_the_catalog_is_read_back_and_linked(crm_path, db):
    customer = add_customer(db, name="Ali Hassan", phone="+966501234567")
    metadata = api_call(db, department="sales", language="en", customer_id=customer["id"])
    async with call_session(crm_path, salesperson, metadata=metadata) as c:
        result = await c.say("Hi, what do you offer?")
        catalog = result.expect.contains_function_call_output(is_error=False).event().item.output
        assert "website: Business website, 1,500.00 USD per one-off" in catalog

        result = await c.say("Please give me a quote for a website and two apps")
        result.expect.next_event().is_function_call(name="create_quote")
        output = result.expect.next_event().is_function_call_output(is_error=False).event().item
        reply = result.expect.next_event().is_message(role="assistant").event().item.text_content
        number = re.search(r"QT-\d{6}", output.output).group(0)
        assert number in reply and "13,500.00 USD" in reply  # 1500 + 2 x 6000

    quote = crm_quotes.get_quote_by_number(db, number=number)
    assert quote["call_id"] == 1
    assert quote["customer_id"] == customer["id"]
    assert quote["total"] == 13500.0
    assert [(i["service_code"], i["quantity"]) for i in quote["items"]] == [
        ("website", 1),
        ("mobile-app", 2),
    ]


async def test_quote_names_in_arabic(crm_path, db):
    customer = add_customer(db, name="علي", phone="+966501234567")
    metadata = api_call(db, department="sales", customer_id=customer["id"])
    async with call_session(crm_path, salesperson, metadata=metadata) as c:
        result = await c.say("I want a quote")  # the model is scripted in English; the data is not
        output = result.expect.contains_function_call_output(is_error=False).event().item.output
        assert "موقع إلكتروني للأعمال" in output


async def test_follow_up_is_scheduled_for_the_caller(crm_path, db):
    customer = add_customer(db, name="Ali", phone="+966501234567")
    metadata = api_call(db, department="sales", language="en", customer_id=customer["id"])
    async with call_session(crm_path, salesperson, metadata=metadata) as c:
        result = await c.say("I need to think about it")
        output = result.expect.contains_function_call_output(is_error=False).event().item.output
        assert output.startswith("Follow-up scheduled for")
    [follow_up] = crm_follow_ups.list_follow_ups(db, customer_id=customer["id"])
    assert follow_up["call_id"] == 1 and follow_up["note"] == "website quote"


async def test_an_unverified_callers_quote_stays_on_the_call(crm_path, db):
    metadata = api_call(db, department="sales", language="en", phone="+966501234567")
    async with call_session(crm_path, salesperson, metadata=metadata) as c:
        result = await c.say("Give me a quote")
        output = result.expect.contains_function_call_output(is_error=False).event().item.output
        assert "kept on this call, not on any customer record" in output
    [quote] = crm_quotes.list_quotes(db)
    assert (quote["customer_id"], quote["call_id"]) == (None, 1)
