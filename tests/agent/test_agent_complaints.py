"""Mohammed's work: tickets opened for the caller, read back with number and due time, and the
status of the caller's own tickets."""

from __future__ import annotations

import re

import pytest

from app.crm import tickets as crm_tickets
from tests.agent.harness import add_customer, api_call, call_session
from tests.agent.scripted_llm import Reply, Request, call

pytestmark = pytest.mark.asyncio


def support(request: Request) -> Reply | str | None:
    text = request.user_text or ""
    if request.tool_output is not None:
        return f"Done: {request.tool_output.output}"
    if "لا يعمل" in text or "not working" in text:
        return call(
            "open_ticket",
            {
                "subject": "Mobile app does not start",
                "category": "technical",
                "priority": "high",
                "description": "Since yesterday the app crashes on launch.",
            },
        )
    if "status" in text or "حالة" in text:
        return call("my_tickets")
    return "I'm here to help."


async def test_ticket_is_opened_read_back_and_linked(crm_path, db):
    customer = add_customer(db, name="Sara", phone="+966551234567")
    metadata = api_call(db, department="complaints", customer_id=customer["id"])
    async with call_session(crm_path, support, metadata=metadata) as c:
        result = await c.say("تطبيقي لا يعمل منذ أمس")
        result.expect.next_event().is_function_call(name="open_ticket")
        output = result.expect.next_event().is_function_call_output(is_error=False).event().item
        reply = result.expect.next_event().is_message(role="assistant").event().item.text_content
        number = re.search(r"TKT-\d{6}", output.output).group(0)
        due = re.search(r"due by (\S+ \S+ UTC)", output.output).group(1)
        assert number in reply and due in reply

    ticket = crm_tickets.get_ticket_by_number(db, number=number)
    assert (ticket["call_id"], ticket["customer_id"]) == (1, customer["id"])
    assert (ticket["category"], ticket["priority"], ticket["status"]) == (
        "technical",
        "high",
        "open",
    )
    assert ticket["sla_due_at"][:16].replace("T", " ") + " UTC" == due


async def test_status_of_the_callers_own_tickets(crm_path, db):
    customer = add_customer(db, name="Sara", phone="+966551234567")
    crm_tickets.open_ticket(
        db, customer_id=customer["id"], subject="Invoice is wrong", category="billing"
    )
    metadata = api_call(db, department="complaints", language="en", customer_id=customer["id"])
    async with call_session(crm_path, support, metadata=metadata) as c:
        result = await c.say("What is the status of my tickets?")
        output = result.expect.contains_function_call_output(is_error=False).event().item.output
        assert "TKT-000001" in output and "Invoice is wrong" in output and "Status open" in output
