"""The first words of a call: the department's persona, in the call's language, by name for a
known caller (in the language of their last call unless the call asks otherwise)."""

from __future__ import annotations

import pytest

from app.crm import calls as crm_calls
from personas import get_greeting
from tests.agent.harness import add_customer, api_call, call_session

pytestmark = pytest.mark.asyncio


def silent(request: object) -> str:
    return ""


def greeting_text(call: object) -> str:
    message = call.greeting.expect.contains_message(role="assistant").event().item
    return message.text_content


async def test_arabic_by_default(crm_path, db):
    metadata = api_call(db)
    async with call_session(crm_path, silent, metadata=metadata) as call:
        assert greeting_text(call) == get_greeting("reception", "ar")
        assert type(call.agent).__name__ == "ReceptionAgent"


async def test_english_when_the_call_asks(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(crm_path, silent, metadata=metadata) as call:
        assert greeting_text(call) == get_greeting("reception", "en")


async def test_department_persona_greets_first(crm_path, db):
    metadata = api_call(db, department="complaints", language="en")
    async with call_session(crm_path, silent, metadata=metadata) as call:
        assert greeting_text(call) == get_greeting("complaints", "en")
        assert type(call.agent).__name__ == "ComplaintsAgent"


async def test_known_caller_is_greeted_by_name(crm_path, db):
    add_customer(db, name="Layla Haddad", phone="+966501112233")
    metadata = api_call(db, language="en", phone="+966501112233")
    async with call_session(crm_path, silent, metadata=metadata) as call:
        assert greeting_text(call) == get_greeting("reception", "en", "Layla Haddad")
        assert call.state.customer_id is not None


async def test_known_caller_gets_the_language_of_their_last_call(crm_path, db):
    add_customer(db, name="Omar", phone="+966502223344", language="en")
    metadata = api_call(db, department="sales", phone="+966502223344")  # no language asked
    async with call_session(crm_path, silent, metadata=metadata) as call:
        assert greeting_text(call) == get_greeting("sales", "en", "Omar")
    assert crm_calls.get_call(db, call_id=1)["language"] == "en"


async def test_the_call_language_wins_over_the_last_call(crm_path, db):
    add_customer(db, name="Omar", phone="+966502223344", language="en")
    metadata = api_call(db, language="ar", phone="+966502223344")
    async with call_session(crm_path, silent, metadata=metadata) as call:
        assert greeting_text(call) == get_greeting("reception", "ar", "Omar")


async def test_the_greeting_and_joining_are_recorded(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(crm_path, silent, metadata=metadata):
        detail = crm_calls.get_call_detail(db, call_id=1)
        assert detail["status"] == "active"
        assert detail["agent_joined_at"] is not None
        assert [e["kind"] for e in detail["events"]] == ["agent_joined", "persona_entered"]
        assert [
            (t["role"], t["persona"], t["language"], t["text"]) for t in detail["transcript"]
        ] == [("agent", "reception", "en", get_greeting("reception", "en"))]
