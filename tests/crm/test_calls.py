"""Calls: the row, its events and transcript, persona visits, closing once."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from app.crm import InvalidInput, NotFound
from app.crm.calls import (
    add_event,
    add_turn,
    create_call,
    end_call,
    get_call_detail,
    list_calls,
    mark_agent_joined,
    set_call_language,
)
from app.crm.customers import create_customer, get_customer


def test_a_call_from_creation_to_end(db: Database):
    customer = create_customer(db, name="Nada", phone="0506667788", language="ar")
    call = create_call(
        db,
        room="call-abc",
        language="en",
        department="sales",
        customer_id=customer["id"],
        identity_method="trusted_token",
    )
    assert call["status"] == "created" and call["personas_visited"] == []
    add_event(db, call_id=call["id"], kind="dispatched", agent_name="ornina-agent")
    joined = mark_agent_joined(db, call_id=call["id"])
    assert joined["status"] == "active" and joined["agent_joined_at"]
    add_event(db, call_id=call["id"], kind="persona_entered", persona="reception")
    add_event(db, call_id=call["id"], kind="persona_entered", persona="reception")
    add_event(db, call_id=call["id"], kind="persona_entered", persona="sales")
    add_turn(
        db,
        call_id=call["id"],
        role="agent",
        text="أهلاً",
        persona="reception",
        language="ar",
        llm_ttft=0.4,
        e2e_latency=1.1,
    )
    add_turn(db, call_id=call["id"], role="caller", text="I want a quote", interrupted=True)

    ended = end_call(db, call_id=call["id"], outcome="quote given")
    assert ended["status"] == "ended" and ended["outcome"] == "quote given"
    assert ended["duration_seconds"] >= 0
    again = end_call(db, call_id=call["id"], outcome="something else")
    assert again["outcome"] == "quote given" and again["ended_at"] == ended["ended_at"]
    assert get_customer(db, customer_id=customer["id"])["language"] == "en"

    detail = get_call_detail(db, call_id=call["id"])
    assert detail["personas_visited"] == ["reception", "sales"]
    assert [e["kind"] for e in detail["events"]] == ["dispatched"] + ["persona_entered"] * 3
    assert detail["events"][0]["data"] == {"agent_name": "ornina-agent"}
    assert [t["text"] for t in detail["transcript"]] == ["أهلاً", "I want a quote"]
    assert detail["transcript"][0]["llm_ttft"] == 0.4
    assert detail["transcript"][1]["interrupted"] is True


def test_refused_values(db: Database):
    with pytest.raises(InvalidInput):
        create_call(db, room="r", language="fr", department="sales")
    with pytest.raises(InvalidInput):
        create_call(db, room="r", language="ar", department="billing")
    with pytest.raises(InvalidInput):
        create_call(db, room="", language="ar", department="sales")
    call = create_call(db, room="r", language="ar", department="sales")
    with pytest.raises(InvalidInput):
        add_turn(db, call_id=call["id"], role="system", text="x")
    with pytest.raises(InvalidInput):
        add_turn(db, call_id=call["id"], role="agent", text="x", cpu=1.0)
    with pytest.raises(InvalidInput):
        set_call_language(db, call_id=call["id"], language="de")
    with pytest.raises(NotFound):
        get_call_detail(db, call_id=999)
    with pytest.raises(NotFound):
        end_call(db, call_id=999, outcome="x")


def test_list_calls_filters(db: Database):
    a = create_call(db, room="a", language="ar", department="sales")
    b = create_call(db, room="b", language="en", department="complaints")
    end_call(db, call_id=b["id"], outcome="done")
    assert [c["id"] for c in list_calls(db)] == [b["id"], a["id"]]
    assert [c["id"] for c in list_calls(db, status="ended")] == [b["id"]]
    assert [c["id"] for c in list_calls(db, language="ar")] == [a["id"]]
    assert [c["id"] for c in list_calls(db, department="complaints")] == [b["id"]]
    assert [c["id"] for c in list_calls(db, since=a["created_at"])] == [b["id"], a["id"]]
    assert list_calls(db, until=a["created_at"]) == []
    assert list_calls(db, since="2999-01-01") == []
    assert [c["id"] for c in list_calls(db, limit=1, offset=1)] == [a["id"]]
