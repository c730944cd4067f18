"""The agent tests' call harness: a text-only call session driven by a scripted LLM, started
exactly as the worker starts a call (`open_call` + `start_call`), on a real CRM file."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from livekit.agents import AgentSession, APIConnectOptions, RunResult
from livekit.agents.voice.agent_session import SessionConnectOptions
from sqlite_utils import Database

from agent.call_state import CallState, open_call
from agent.crm import LocalCallCrm
from agent.metadata import parse_metadata
from agent.phone import PhoneCall
from agent.recorder import CallRecorder
from agent.session import create_session, start_call
from app.crm import calls as crm_calls
from app.crm import customers as crm_customers
from app.telephony.lines import PhoneLine
from tests.agent.scripted_llm import Responder, ScriptedLLM


def add_customer(db: Database, **fields: object) -> dict:
    return crm_customers.create_customer(db, **fields)


def api_call(
    db: Database,
    *,
    room: str = "call-room-1",
    department: str = "reception",
    language: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    customer_id: int | None = None,
) -> str:
    """What the API does for POST /api/calls: the call row, and the dispatch metadata. A name
    or phone is what the caller typed (a claim); `customer_id` is a trusted backend's verified
    call start."""
    call = crm_calls.create_call(
        db,
        room=room,
        language=language or "ar",
        department=department,
        caller_name=name,
        caller_phone=phone,
        customer_id=customer_id,
        identity_method="trusted_token" if customer_id else None,
    )
    return json.dumps(
        {
            "call_id": call["id"],
            "department": department,
            "language": language,
            "name": name,
            "phone": phone,
        }
    )


@dataclass
class Call:
    session: AgentSession[CallState]
    state: CallState
    llm: ScriptedLLM
    recorder: CallRecorder
    greeting: RunResult

    async def say(self, text: str) -> RunResult:
        result = await self.session.run(user_input=text)
        await self.state.crm.flush()
        return result

    async def hang_up(self) -> None:
        await self.session.aclose()
        await self.recorder.finish()

    @property
    def agent(self) -> object:
        return self.session.current_agent


@asynccontextmanager
async def call_session(
    crm_path: Path,
    responder: Responder,
    *,
    metadata: str | None,
    room: str = "call-room-1",
    default_language: str = "ar",
    llm_retries: int = 0,
    caller_id: str = "",
    phone: PhoneCall | None = None,
    line: PhoneLine | None = None,
    human_line: str = "",
    notice: dict[str, str] | None = None,
) -> AsyncIterator[Call]:
    """`caller_id`: the number a trusted SIP trunk vouches for; `phone` the SIP participant of
    a phone call and `line` the line it dialled (`agent.phone`); `human_line` SIP_TRANSFER_TO."""
    crm = await LocalCallCrm.open(crm_path)
    state = await open_call(
        crm,
        parse_metadata(metadata),
        room=room,
        default_language=default_language,
        phone=phone,
        line=line,
        caller_id=caller_id,
    )
    state.human_line = human_line
    state.notice = notice or {}
    llm = ScriptedLLM(responder)
    session = create_session(
        state,
        llm=llm,
        conn_options=SessionConnectOptions(
            llm_conn_options=APIConnectOptions(max_retry=llm_retries, retry_interval=0.0)
        ),
    )
    recorder: CallRecorder | None = None
    try:
        recorder, greeting = await start_call(session, state, capture_run=True)
        assert greeting is not None
        await crm.flush()
        yield Call(session=session, state=state, llm=llm, recorder=recorder, greeting=greeting)
    finally:
        await session.aclose()
        if recorder is not None:
            await recorder.finish()
        await crm.aclose()
