"""The first words of a call: the department's persona, in the call's language, by name for a
verified caller only, "welcome back" only if they called before (in the language of their last
call unless the call asks otherwise). A claimed number greets nobody by name."""

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


def earlier_call(db, customer: dict) -> None:
    """A call the customer made before (verified then), answered by the agent."""
    earlier = crm_calls.create_call(
        db,
        room=f"earlier-{customer['id']}",
        language="en",
        department="reception",
        customer_id=customer["id"],
        identity_method="trusted_token",
    )
    crm_calls.mark_agent_joined(db, call_id=earlier["id"])


async def test_a_claimed_number_of_a_customer_gets_no_name_and_no_record_language(crm_path, db):
    add_customer(db, name="Layla Haddad", phone="+966501112233", language="en")
    metadata = api_call(db, phone="+966501112233")  # typed on the public page; no language
    async with call_session(crm_path, silent, metadata=metadata) as call:
        assert greeting_text(call) == get_greeting("reception", "ar")
        assert "Layla" not in call.agent.instructions
        assert call.state.customer_id is None and call.state.identity_level == "claimed"
    assert crm_calls.get_call(db, call_id=1)["customer_id"] is None


async def test_a_first_time_caller_is_never_welcomed_back(crm_path, db):
    metadata = api_call(db, language="en", name="New Person", phone="+966507770000")
    async with call_session(crm_path, silent, metadata=metadata) as call:
        assert greeting_text(call) == get_greeting("reception", "en")
        assert "back" not in greeting_text(call)


async def test_a_verified_caller_on_their_first_call_is_greeted_by_name_not_back(crm_path, db):
    layla = add_customer(db, name="Layla Haddad", phone="+966501112233")
    metadata = api_call(db, language="en", customer_id=layla["id"])
    async with call_session(crm_path, silent, metadata=metadata) as call:
        assert greeting_text(call) == get_greeting("reception", "en", "Layla Haddad")
        assert "back" not in greeting_text(call)


async def test_a_verified_returning_caller_is_welcomed_back(crm_path, db):
    layla = add_customer(db, name="Layla Haddad", phone="+966501112233")
    earlier_call(db, layla)
    metadata = api_call(db, room="call-room-2", language="en", customer_id=layla["id"])
    async with call_session(crm_path, silent, metadata=metadata) as call:
        expected = get_greeting("reception", "en", "Layla Haddad", returning=True)
        assert greeting_text(call) == expected
        assert expected.startswith("Welcome back")


async def test_a_returning_caller_verified_by_caller_id_is_welcomed_back(crm_path, db):
    omar = add_customer(db, name="Omar", phone="+966502223344")
    earlier_call(db, omar)
    metadata = api_call(db, room="call-room-2", department="sales", language="en")
    async with call_session(
        crm_path, silent, metadata=metadata, room="call-room-2", caller_id="+966502223344"
    ) as call:
        assert greeting_text(call) == get_greeting("sales", "en", "Omar", returning=True)
        assert call.state.identity_method == "caller_id"


async def test_a_verified_caller_gets_the_language_of_their_last_call(crm_path, db):
    omar = add_customer(db, name="Omar", phone="+966502223344", language="en")
    metadata = api_call(db, department="sales", customer_id=omar["id"])  # no language asked
    async with call_session(crm_path, silent, metadata=metadata) as call:
        assert greeting_text(call) == get_greeting("sales", "en", "Omar")
    assert crm_calls.get_call(db, call_id=1)["language"] == "en"


async def test_the_call_language_wins_over_the_last_call(crm_path, db):
    omar = add_customer(db, name="Omar", phone="+966502223344", language="en")
    metadata = api_call(db, language="ar", customer_id=omar["id"])
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
