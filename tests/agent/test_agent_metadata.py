"""Dispatch metadata: read defensively. Missing or bad metadata starts Reception in the default
language and is recorded as an event; it never crashes the call."""

from __future__ import annotations

import json

import pytest

from agent.metadata import CallMetadata, parse_metadata
from app.crm import calls as crm_calls
from personas import PersonaType, get_greeting
from tests.agent.harness import api_call, call_session


def test_good_metadata() -> None:
    meta = parse_metadata(
        json.dumps(
            {
                "call_id": 7,
                "department": "sales",
                "language": "en",
                "name": " Ali  Hassan ",
                "phone": "0501234567",
            }
        )
    )
    assert meta == CallMetadata(
        call_id=7,
        department=PersonaType.SALES,
        language="en",
        name="Ali Hassan",
        phone="+966501234567",
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (None, "metadata is empty"),
        ("", "metadata is empty"),
        ("{{{", "metadata is not JSON"),
        ("[1, 2]", "metadata is not a JSON object"),
        ("x" * 5000, "metadata is too long"),
        ('{"call_id": "7"}', "call_id is not a positive integer"),
        ('{"call_id": true}', "call_id is not a positive integer"),
        ('{"call_id": -1}', "call_id is not a positive integer"),
        ('{"department": "billing"}', "department is not one of reception, sales, complaints"),
        ('{"department": ["sales"]}', "department is not one of reception, sales, complaints"),
        ('{"call_id": 1, "language": "fr"}', "language is not one of ar, en"),
        ('{"call_id": 1, "name": 42}', "name is not text"),
        ('{"call_id": 1, "phone": "not a phone"}', "phone is not a valid phone number"),
        ('{"call_id": 1, "phone": 966501234567}', "phone is not a valid phone number"),
    ],
)
def test_bad_metadata_falls_back_and_says_why(raw: str | None, problem: str) -> None:
    meta = parse_metadata(raw)
    assert problem in meta.problems
    assert meta.department in PersonaType
    assert meta.language in (None, "ar", "en")


def test_no_language_means_the_call_did_not_ask() -> None:
    assert parse_metadata('{"call_id": 3, "language": null}').language is None


def silent(request: object) -> str:
    return ""


@pytest.mark.asyncio
@pytest.mark.parametrize("raw", [None, "", "not json at all", "[]", '{"department": 12}'])
async def test_bad_metadata_starts_reception_and_records_it(crm_path, db, raw) -> None:
    async with call_session(crm_path, silent, metadata=raw, room="room-bad") as c:
        greeting = c.greeting.expect.contains_message(role="assistant").event().item
        assert greeting.text_content == get_greeting("reception", "ar")
        assert type(c.agent).__name__ == "ReceptionAgent"
    [call] = crm_calls.list_calls(db)
    assert call["room"] == "room-bad"
    assert call["status"] == "ended"
    kinds = [e["kind"] for e in crm_calls.list_events(db, call_id=call["id"])]
    assert kinds[0] == "metadata_invalid"
    assert "agent_joined" in kinds


@pytest.mark.asyncio
async def test_unknown_call_id_gets_its_own_call_row(crm_path, db) -> None:
    api_call(db, room="room-1")  # call 1, in another room
    raw = json.dumps({"call_id": 99, "department": "sales", "language": "en"})
    async with call_session(crm_path, silent, metadata=raw, room="room-2") as c:
        assert type(c.agent).__name__ == "SalesAgent"
    call = crm_calls.get_call(db, call_id=2)
    assert (call["room"], call["department"], call["language"]) == ("room-2", "sales", "en")
    [event] = [e for e in crm_calls.list_events(db, call_id=2) if e["kind"] == "metadata_invalid"]
    assert event["data"]["problems"] == ["call_id does not name a call"]


@pytest.mark.asyncio
async def test_unknown_call_id_in_a_room_that_has_a_call(crm_path, db) -> None:
    api_call(db, room="room-1")
    raw = json.dumps({"call_id": 99})
    async with call_session(crm_path, silent, metadata=raw, room="room-1"):
        pass
    rooms = [call["room"] for call in crm_calls.list_calls(db)]
    assert len(rooms) == 2 and rooms[0].startswith("room-1#")


@pytest.mark.asyncio
async def test_bad_department_with_a_good_call_keeps_the_call(crm_path, db) -> None:
    api_call(db, room="room-1", language="en")
    raw = json.dumps({"call_id": 1, "department": "billing", "language": "en"})
    async with call_session(crm_path, silent, metadata=raw, room="room-1") as c:
        assert type(c.agent).__name__ == "ReceptionAgent"
        assert c.state.call_id == 1
