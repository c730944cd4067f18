"""Transfers: the next persona gets the conversation and the summary, greets briefly and goes
on; the CRM records each transfer; a call cannot bounce between personas forever."""

from __future__ import annotations

import pytest
from livekit.agents import ChatContext, FunctionCall, FunctionCallOutput

from agent.personas_agents import ComplaintsAgent, ReceptionAgent, SalesAgent
from agent.transfer import MAX_TRANSFERS, handoff_context
from app.crm import calls as crm_calls
from personas import get_persona
from tests.agent.harness import api_call, call_session
from tests.agent.scripted_llm import Reply, Request, call

pytestmark = pytest.mark.asyncio

SALES_SUMMARY = "Caller Ali Hassan wants a quote for a bilingual business website."
COMPLAINTS_SUMMARY = "المتصل يشتكي من أن تطبيقه لا يعمل منذ أمس."


def to(department: str, reason: str, summary: str) -> Reply:
    return call(
        "transfer_to_department",
        {"department": department, "reason": reason, "summary": summary},
    )


def receptionist(request: Request) -> Reply | str | None:
    text = request.user_text or ""
    if request.agent == "reception" and "website" in text:
        return to("sales", "wants a website quote", SALES_SUMMARY)
    if request.agent == "reception" and "تطبيق" in text:
        return to("complaints", "تطبيق معطل", COMPLAINTS_SUMMARY)
    if request.agent == "sales" and "complaint" in text:
        return to("complaints", "has a complaint", "Ali also has a complaint about billing.")
    if request.agent == "sales" and "something else" in text:
        return to("reception", "general question", "Ali has a general question.")
    if request.instruction and "transferred" in request.instruction:
        return "Let me help you with that right away."
    if request.tool_output is not None:
        return "OK."
    return "How can I help?"


async def test_reception_to_sales_carries_the_conversation(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(crm_path, receptionist, metadata=metadata) as c:
        await c.say("Hi, my name is Ali Hassan.")
        result = await c.say("I would like a business website, can you help?")

        result.expect.next_event().is_function_call(name="transfer_to_department")
        result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_agent_handoff(new_agent_type=SalesAgent)
        intro = result.expect.next_event().is_message(role="assistant").event().item
        assert intro.text_content == get_persona("sales").handoff_intro["en"]
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()

        # what Sarah's model saw when she took over
        takeover = c.llm.requests[-1]
        assert takeover.agent == "sales"
        users = takeover.messages("user")
        assert "Hi, my name is Ali Hassan." in users
        assert "I would like a business website, can you help?" in users
        assert SALES_SUMMARY in takeover.system_text
        assert "You are Sarah in Sales" in takeover.system_text
        # and what her agent keeps for the rest of the call
        kept = [item.text_content for item in c.agent.chat_ctx.items if item.type == "message"]
        assert any(SALES_SUMMARY in (text or "") for text in kept)
        assert "Hi, my name is Ali Hassan." in kept

    detail = crm_calls.get_call_detail(db, call_id=1)
    transfers = [e for e in detail["events"] if e["kind"] == "transfer"]
    assert [(e["data"]["from"], e["data"]["to"], e["data"]["reason"]) for e in transfers] == [
        ("reception", "sales", "wants a website quote")
    ]
    assert transfers[0]["data"]["summary"] == SALES_SUMMARY
    assert detail["personas_visited"] == ["reception", "sales"]


async def test_reception_to_complaints_in_arabic(crm_path, db):
    metadata = api_call(db)
    async with call_session(crm_path, receptionist, metadata=metadata) as c:
        result = await c.say("السلام عليكم، تطبيقي لا يعمل منذ أمس")
        result.expect.contains_agent_handoff(new_agent_type=ComplaintsAgent)
        assert isinstance(c.agent, ComplaintsAgent)
        intro = [e.item.text_content for e in result.events if e.type == "message"]
        assert intro[0] == get_persona("complaints").handoff_intro["ar"]
        takeover = c.llm.requests[-1]
        assert "السلام عليكم، تطبيقي لا يعمل منذ أمس" in takeover.messages("user")
        assert COMPLAINTS_SUMMARY in takeover.system_text
        assert "Arabic" in (takeover.instruction or "")

    events = crm_calls.get_call_detail(db, call_id=1)["events"]
    transfer = next(e for e in events if e["kind"] == "transfer")
    assert (transfer["data"]["from"], transfer["data"]["to"]) == ("reception", "complaints")


async def test_every_transfer_is_noted_for_the_next_persona(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(crm_path, receptionist, metadata=metadata) as c:
        await c.say("I want a website")
        await c.say("I also have a complaint about my bill")
        assert isinstance(c.agent, ComplaintsAgent)
        note = c.llm.requests[-1].system_text
        assert SALES_SUMMARY in note
        assert "Ali also has a complaint about billing." in note
    assert crm_calls.get_call(db, call_id=1)["personas_visited"] == [
        "reception",
        "sales",
        "complaints",
    ]


async def test_transfer_back_to_reception_is_allowed(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(crm_path, receptionist, metadata=metadata) as c:
        await c.say("I want a website")
        result = await c.say("Actually I need something else")
        result.expect.contains_agent_handoff(new_agent_type=ReceptionAgent)
        assert isinstance(c.agent, ReceptionAgent)
    assert crm_calls.get_call(db, call_id=1)["personas_visited"] == [
        "reception",
        "sales",
        "reception",
    ]


def ping_pong(request: Request) -> Reply | str | None:
    if request.user_text == "bounce":
        target = "sales" if request.agent == "reception" else "reception"
        return to(target, "bouncing", "The caller keeps asking to be transferred.")
    if request.tool_output is not None and request.tool_output.is_error:
        return "I'll help you here myself."
    if request.instruction:
        return "Hello again."
    return "OK."


async def test_a_call_cannot_bounce_forever(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(crm_path, ping_pong, metadata=metadata) as c:
        for _ in range(MAX_TRANSFERS):
            result = await c.say("bounce")
            result.expect.contains_agent_handoff()
        agent_before = c.agent
        result = await c.say("bounce")
        output = result.expect.contains_function_call_output(is_error=True).event().item
        assert "do not transfer again" in output.output
        assert c.agent is agent_before
        result.expect.contains_message(role="assistant")  # the caller is still answered
    events = crm_calls.get_call_detail(db, call_id=1)["events"]
    assert sum(e["kind"] == "transfer" for e in events) == MAX_TRANSFERS
    assert any(e["kind"] == "tool_error" for e in events)


async def test_the_transfer_in_flight_is_not_carried_half_done(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(crm_path, receptionist, metadata=metadata) as c:
        history = ChatContext.empty()
        history.add_message(role="user", content="hello")
        history.insert(FunctionCall(call_id="c1", name="update_contact_details", arguments="{}"))
        history.insert(
            FunctionCallOutput(
                call_id="c1", name="update_contact_details", output="ok", is_error=False
            )
        )
        history.insert(FunctionCall(call_id="c2", name="transfer_to_department", arguments="{}"))
        carried = handoff_context(history, c.state)
    kinds = [(item.type, getattr(item, "call_id", None)) for item in carried.items]
    assert ("function_call", "c1") in kinds and ("function_call_output", "c1") in kinds
    assert ("function_call", "c2") not in kinds
    assert carried.items[-1].role == "system"
