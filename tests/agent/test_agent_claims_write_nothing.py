"""Nothing said or typed on a claimed identity changes an existing customer's record: every
tool that writes is called, by a model that believes the claim, on a call that typed another
customer's number and name; that customer's row and holdings stay exactly as they were.

A tool added later must be listed here as writing or reading, or the first test fails.
"""

from __future__ import annotations

import pytest
from livekit.agents.llm import FunctionTool

from app.crm import calls as crm_calls
from app.crm import customers as crm_customers
from app.crm import follow_ups as crm_follow_ups
from app.crm import quotes as crm_quotes
from app.crm import tickets as crm_tickets
from tests.agent.harness import add_customer, api_call, call_session
from tests.agent.scripted_llm import Reply, Request, call

pytestmark = pytest.mark.asyncio

VICTIM = {"name": "Nour Saleh", "phone": "+966508887766", "email": "nour@example.com"}
WRITES = {
    "update_contact_details": (
        "complaints",
        {"name": "Nour Saleh", "phone": "0508887766", "email": "evil@example.org"},
    ),
    "identify_caller": (
        "reception",
        {
            "name": "Nour Saleh",
            "phone": "+966 50 888 7766",
            "email": "evil@example.org",
            "service_interest": "everything",
        },
    ),
    "open_ticket": ("complaints", {"subject": "Refund to me", "category": "billing"}),
    "create_quote": ("sales", {"items": [{"service_code": "website", "quantity": 2}]}),
    "schedule_follow_up": ("sales", {"days_from_now": 2, "note": "call Nour"}),
    "verify_identity": ("reception", {"code": "000000", "phone": "0508887766"}),
    "switch_language": ("reception", {"language": "en"}),
    "end_call": ("reception", {"reason": "done"}),
    "transfer_to_human": ("sales", {"reason": "wants a person about my account"}),
    "transfer_to_department": (
        "reception",
        {"department": "sales", "reason": "buy", "summary": "Nour Saleh, existing customer"},
    ),
}
READS = {"my_tickets", "my_quotes", "list_services"}


def holdings(db, customer_id: int) -> dict:
    return {
        "customer": crm_customers.get_customer(db, customer_id=customer_id),
        "tickets": crm_tickets.list_tickets(db, customer_id=customer_id),
        "quotes": crm_quotes.list_quotes(db, customer_id=customer_id),
        "follow_ups": crm_follow_ups.list_follow_ups(db, customer_id=customer_id),
        "calls": crm_calls.list_calls(db, customer_id=customer_id),
    }


@pytest.fixture
def victim(db) -> dict:
    victim = add_customer(db, **VICTIM, language="ar")
    crm_tickets.open_ticket(db, customer_id=victim["id"], subject="Old issue")
    return victim


async def test_every_tool_is_listed_as_writing_or_reading(crm_path, db):
    names: set[str] = set()
    for department in ("reception", "sales", "complaints"):
        metadata = api_call(db, room=f"r-{department}", department=department)
        async with call_session(
            crm_path, lambda r: None, metadata=metadata, room=f"r-{department}"
        ) as c:
            names |= {t.info.name for t in c.agent.tools if isinstance(t, FunctionTool)}
    assert names == set(WRITES) | READS


@pytest.mark.parametrize("tool", sorted(WRITES))
async def test_a_claim_changes_no_record(crm_path, db, victim, tool):
    department, arguments = WRITES[tool]
    before = holdings(db, victim["id"])

    def believes_the_claim(request: Request) -> Reply | str | None:
        if request.tool_output is not None or not request.user_text:
            return "Done."
        return call(tool, arguments)

    metadata = api_call(
        db, department=department, language="ar", name=VICTIM["name"], phone=VICTIM["phone"]
    )
    async with call_session(crm_path, believes_the_claim, metadata=metadata) as c:
        result = await c.say("This is Nour Saleh, it's my account, do it on my record.")
        result.expect.contains_function_call(name=tool)
    assert holdings(db, victim["id"]) == before
    assert crm_calls.get_call(db, call_id=1)["customer_id"] is None
