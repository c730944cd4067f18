"""When every provider of a stage fails mid-call, the caller hears an apology in their
language, a callback ticket is opened, and the call ends cleanly."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit.agents import APIConnectionError

from agent.failsafe import ProviderFailsafe
from agent.local_tts import EspeakTTS, espeak_available
from agent.notices import apology
from app.crm import calls as crm_calls
from app.crm import customers as crm_customers
from app.crm import tickets as crm_tickets
from tests.agent.harness import add_customer, api_call, call_session
from tests.agent.scripted_llm import Request

pytestmark = pytest.mark.asyncio


def breaks_on_second_turn(request: Request) -> str:
    if request.user_text == "and another thing":
        raise APIConnectionError("all LLMs failed")
    return "Sure."


async def fail_and_wait(call) -> None:
    closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    call.session.on("close", lambda event: closed.done() or closed.set_result(event.reason.value))
    await call.say("hello")
    call.session.generate_reply(user_input="and another thing")
    await asyncio.wait_for(closed, timeout=10)
    await call.recorder.finish()


async def test_known_caller_hears_an_apology_and_gets_a_callback(crm_path, db):
    customer = add_customer(db, name="Ali", phone="+966501234567")
    metadata = api_call(db, customer_id=customer["id"])  # Arabic
    async with call_session(crm_path, breaks_on_second_turn, metadata=metadata) as c:
        await fail_and_wait(c)

    [ticket] = crm_tickets.list_tickets(db, customer_id=customer["id"])
    assert (ticket["category"], ticket["priority"], ticket["call_id"]) == ("callback", "high", 1)
    detail = crm_calls.get_call_detail(db, call_id=1)
    assert detail["transcript"][-1]["role"] == "agent"
    assert detail["transcript"][-1]["text"] == apology("ar", ticket["number"])
    assert detail["status"] == "ended" and detail["outcome"] == "llm_providers_failed"
    error = next(e for e in detail["events"] if e["kind"] == "error")
    assert error["data"]["stage"] == "llm"


async def test_an_unverified_caller_with_a_number_gets_a_callback_on_the_call(crm_path, db):
    metadata = api_call(db, language="en", phone="+966551230000")
    async with call_session(crm_path, breaks_on_second_turn, metadata=metadata) as c:
        await fail_and_wait(c)
    assert crm_customers.find_by_phone(db, phone="+966551230000") is None  # a claim makes no row
    [ticket] = crm_tickets.list_tickets(db)
    assert (ticket["customer_id"], ticket["call_id"], ticket["category"]) == (None, 1, "callback")
    assert crm_calls.get_call(db, call_id=1)["caller_phone"] == "+966551230000"
    assert crm_calls.list_turns(db, call_id=1)[-1]["text"] == apology("en", ticket["number"])


async def test_anonymous_caller_still_hears_the_apology(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(crm_path, breaks_on_second_turn, metadata=metadata) as c:
        await fail_and_wait(c)
    assert crm_tickets.list_tickets(db) == []
    assert crm_calls.list_turns(db, call_id=1)[-1]["text"] == apology("en", None)
    assert crm_calls.get_call(db, call_id=1)["status"] == "ended"


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")
async def test_the_local_voice_speaks_when_tts_is_down(crm_path, db):
    metadata = api_call(db, language="en")
    async with call_session(crm_path, lambda request: "", metadata=metadata) as c:
        failsafe = ProviderFailsafe(c.session, c.state, local_voice=EspeakTTS)
        frames = [frame async for frame in failsafe._local_audio(apology("en", None))]
    samples = np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])
    assert len(samples) / frames[0].sample_rate > 2.0
    assert np.abs(samples).max() > 1000
