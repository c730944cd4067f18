"""Smart routing: Reception sends a caller who names their need in the first sentence to the
right department within that one turn, in Arabic or English."""

from __future__ import annotations

import re

import pytest

from agent.personas_agents import ComplaintsAgent, ReceptionAgent, SalesAgent
from agent.routing import detect_department
from personas import PersonaType
from tests.agent.harness import api_call, call_session
from tests.agent.scripted_llm import Reply, Request, call


@pytest.mark.parametrize(
    ("words", "department"),
    [
        ("How much does a mobile app cost?", PersonaType.SALES),
        ("I'd like a quote for your AI call center", PersonaType.SALES),
        ("كم سعر تصميم موقع إلكتروني؟", PersonaType.SALES),
        ("أريد عرض سعر لتطبيق جوال", PersonaType.SALES),
        ("My website is not working since yesterday", PersonaType.COMPLAINTS),
        ("I want to file a complaint", PersonaType.COMPLAINTS),
        ("عندي شكوى بخصوص الفاتورة", PersonaType.COMPLAINTS),
        ("التطبيق لا يعمل عندي", PersonaType.COMPLAINTS),
        ("Hello, good morning", None),
        ("مرحبا، صباح الخير", None),
        ("I have a problem with the price you charged", None),  # both: let the model decide
    ],
)
def test_detect_department(words: str, department: PersonaType | None) -> None:
    assert detect_department(words) == department


def follows_hints(request: Request) -> Reply | str | None:
    """A model that does what the routing hint says."""
    hint = re.search(r"Routing hint: the caller's request is for (\w+)", request.system_text)
    if request.agent == "reception" and hint and request.user_text:
        return call(
            "transfer_to_department",
            {
                "department": hint.group(1),
                "reason": "asked in the first sentence",
                "summary": f"The caller said: {request.user_text}",
            },
        )
    if request.instruction:
        return "Sure, let's get started."
    return "How can I help you?"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("language", "first_sentence", "agent_type"),
    [
        ("en", "Hi, how much does a business website cost?", SalesAgent),
        ("ar", "مرحبا، أريد عرض سعر لموقع إلكتروني", SalesAgent),
        ("en", "Hello, I have a complaint about my last invoice", ComplaintsAgent),
        ("ar", "السلام عليكم، عندي مشكلة التطبيق لا يعمل", ComplaintsAgent),
    ],
)
async def test_first_sentence_routes_in_one_turn(
    crm_path, db, language: str, first_sentence: str, agent_type: type
) -> None:
    metadata = api_call(db, language=language)
    async with call_session(crm_path, follows_hints, metadata=metadata) as c:
        result = await c.say(first_sentence)
        result.expect.contains_agent_handoff(new_agent_type=agent_type)
        assert isinstance(c.agent, agent_type)


@pytest.mark.asyncio
async def test_no_hint_for_a_greeting(crm_path, db) -> None:
    metadata = api_call(db, language="en")
    async with call_session(crm_path, follows_hints, metadata=metadata) as c:
        await c.say("Hello there")
        assert "Routing hint" not in c.llm.requests[-1].system_text
        assert isinstance(c.agent, ReceptionAgent)
