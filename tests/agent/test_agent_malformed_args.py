"""Malformed tool calls from the model (wrong types, unknown departments, empty strings, broken
JSON, unknown tools) come back as tool errors it can recover from; the call goes on."""

from __future__ import annotations

import pytest

from app.crm import calls as crm_calls
from app.crm import quotes as crm_quotes
from app.crm import tickets as crm_tickets
from tests.agent.harness import add_customer, api_call, call_session
from tests.agent.scripted_llm import Reply, Request, call

pytestmark = pytest.mark.asyncio

BAD_CALLS = [
    ("sales", "create_quote", {"items": [{"service_code": "website", "quantity": "two"}]}),
    ("sales", "create_quote", {"items": "website"}),
    ("sales", "create_quote", {"items": []}),
    ("sales", "create_quote", {"items": [{"service_code": "spaceship", "quantity": 1}]}),
    ("sales", "create_quote", {"items": [{"service_code": "website", "quantity": -3}]}),
    ("sales", "schedule_follow_up", {"days_from_now": "soon"}),
    ("sales", "schedule_follow_up", {"days_from_now": 400}),
    ("sales", "my_quotes", {"quote_number": "the big one"}),
    ("complaints", "open_ticket", {"subject": "   ", "category": "technical"}),
    ("complaints", "open_ticket", {"subject": "Broken", "category": "hardware"}),
    ("complaints", "open_ticket", {"subject": "Broken", "category": "technical", "priority": 5}),
    ("complaints", "open_ticket", {"subject": None, "category": "technical"}),
    ("complaints", "my_tickets", {"ticket_number": 12345}),
    ("reception", "identify_caller", {"name": ""}),
    ("reception", "identify_caller", {"name": "Ali", "phone": "not a number"}),
    ("reception", "identify_caller", {"name": "Ali", "email": "ali-at-example"}),
    ("reception", "update_contact_details", {}),
    ("reception", "update_contact_details", {"name": "", "phone": "", "email": ""}),
    (
        "reception",
        "transfer_to_department",
        {"department": "billing", "reason": "x", "summary": "y"},
    ),
    (
        "reception",
        "transfer_to_department",
        {"department": "reception", "reason": "x", "summary": "y"},
    ),
    ("reception", "transfer_to_department", {"department": "sales", "reason": "", "summary": "y"}),
    ("reception", "transfer_to_department", {"department": 7}),
    ("reception", "switch_language", {"language": "fr"}),
    ("reception", "switch_language", {"language": ["en"]}),
    ("reception", "transfer_to_department", "{not json"),
    ("reception", "delete_all_customers", {}),
]


def first_bad_then_recover(tool: str, arguments: dict | str) -> object:
    def responder(request: Request) -> Reply | str | None:
        output = request.tool_output
        if output is not None:
            assert output.is_error, output.output
            return "Sorry, let me try that differently. What would you like?"
        if request.user_text == "go":
            return call(tool, arguments)
        return "Still here and listening."

    return responder


@pytest.mark.parametrize(("department", "tool", "arguments"), BAD_CALLS)
async def test_bad_arguments_become_recoverable_tool_errors(
    crm_path, db, department, tool, arguments
):
    add_customer(db, name="Ali", phone="+966501234567")
    metadata = api_call(db, department=department, language="en", phone="+966501234567")
    async with call_session(
        crm_path, first_bad_then_recover(tool, arguments), metadata=metadata
    ) as c:
        agent = c.agent
        result = await c.say("go")
        output = result.expect.contains_function_call_output(is_error=True).event().item
        assert output.output  # the model is told what was wrong
        result.expect.contains_message(role="assistant")
        assert c.agent is agent  # no handoff, no crash

        result = await c.say("are you still there?")
        assert result.expect.contains_message(role="assistant").event().item.text_content == (
            "Still here and listening."
        )
    assert crm_quotes.list_quotes(db) == []
    assert crm_tickets.list_tickets(db) == []
    events = crm_calls.get_call_detail(db, call_id=1)["events"]
    assert [e["data"]["tool"] for e in events if e["kind"] == "tool_error"] == [tool]
