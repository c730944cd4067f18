"""The recorder: the CRM transcript matches the conversation turn for turn, with persona,
language and latency figures; the call is closed with duration, personas and outcome."""

from __future__ import annotations

import pytest
from livekit.agents import ChatMessage, ConversationItemAddedEvent

from agent.recorder import CallRecorder
from app.crm import calls as crm_calls
from tests.agent.harness import api_call, call_session
from tests.agent.scripted_llm import Reply, Request, call

pytestmark = pytest.mark.asyncio


def conversation(request: Request) -> Reply | str | None:
    text = request.user_text or ""
    if request.agent == "reception" and "buy" in text:
        return call(
            "transfer_to_department",
            {"department": "sales", "reason": "buying", "summary": "Wants to buy hosting."},
        )
    if request.instruction:
        return "I can help you with hosting."
    if request.tool_output is not None:
        return "Done."
    return f"You said: {text}"


async def test_transcript_matches_the_conversation(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(crm_path, conversation, metadata=metadata) as c:
        await c.say("Hello")
        await c.say("What are your opening hours?")
        await c.say("I want to buy hosting")
        await c.say("For one year please")
        spoken = [
            ("caller" if item.role == "user" else "agent", item.text_content)
            for item in c.session.history.items
            if item.type == "message" and item.role in ("user", "assistant")
        ]
        await c.hang_up()

    turns = crm_calls.list_turns(db, call_id=1)
    assert [(t["role"], t["text"]) for t in turns] == spoken
    assert len(turns) == 10
    assert [t["persona"] for t in turns] == ["reception"] * 6 + ["sales"] * 4
    assert {t["language"] for t in turns} == {"en"}
    assert not any(t["interrupted"] for t in turns)
    # the model's time to first token is measured even in text mode (said lines have none)
    replies = [t for t in turns if t["text"].startswith("You said")]
    assert replies and all(t["llm_ttft"] is not None for t in replies)

    call_row = crm_calls.get_call(db, call_id=1)
    assert call_row["status"] == "ended"
    assert call_row["outcome"] == "completed"
    assert call_row["duration_seconds"] is not None and call_row["duration_seconds"] >= 0
    assert call_row["personas_visited"] == ["reception", "sales"]
    kinds = [e["kind"] for e in crm_calls.list_events(db, call_id=1)]
    assert kinds[:2] == ["agent_joined", "persona_entered"]
    assert kinds[-1] == "ended"
    assert kinds.count("persona_entered") == 2 and "transfer" in kinds


async def test_latency_metrics_are_recorded_per_turn(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(crm_path, lambda request: "", metadata=metadata) as c:
        recorder: CallRecorder = c.recorder
        recorder._on_item_added(
            ConversationItemAddedEvent(
                item=ChatMessage(
                    role="user",
                    content=["can you hear me?"],
                    interrupted=False,
                    metrics={
                        "end_of_turn_delay": 0.41,
                        "transcription_delay": 0.22,
                        "on_user_turn_completed_delay": 0.001,
                    },
                )
            )
        )
        recorder._on_item_added(
            ConversationItemAddedEvent(
                item=ChatMessage(
                    role="assistant",
                    content=["Yes, clearly."],
                    interrupted=True,
                    metrics={
                        "llm_node_ttft": 0.35,
                        "tts_node_ttfb": 0.18,
                        "e2e_latency": 1.02,
                        "playback_latency": 0.0,
                    },
                )
            )
        )
        await c.state.crm.flush()
    caller, agent = crm_calls.list_turns(db, call_id=1)[-2:]
    assert (caller["role"], caller["end_of_turn_delay"], caller["transcription_delay"]) == (
        "caller",
        0.41,
        0.22,
    )
    assert (agent["role"], agent["llm_ttft"], agent["tts_ttfb"], agent["e2e_latency"]) == (
        "agent",
        0.35,
        0.18,
        1.02,
    )
    assert agent["interrupted"] is True and caller["interrupted"] is False


async def test_hanging_up_closes_the_call_once(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(crm_path, lambda request: "Hi!", metadata=metadata) as c:
        await c.say("hello")
        await c.hang_up()
        await c.recorder.finish()  # again: nothing changes
    events = crm_calls.list_events(db, call_id=1)
    assert [e["kind"] for e in events].count("ended") == 1
