"""Building and starting a call's session; the entrypoint and the tests go through here."""

from __future__ import annotations

from collections.abc import Callable

from livekit import rtc
from livekit.agents import (
    NOT_GIVEN,
    AgentSession,
    APIConnectOptions,
    NotGivenOr,
    RunResult,
    TurnHandlingOptions,
    room_io,
    tts,
)
from livekit.agents.llm import LLM
from livekit.agents.vad import VAD
from livekit.agents.voice.agent_session import SessionConnectOptions

from agent.call_state import CallState
from agent.failsafe import ProviderFailsafe
from agent.personas_agents import build_agent
from agent.recorder import CallRecorder
from app.crm import calls as crm_calls

LLM_CONNECT = APIConnectOptions(max_retry=2, retry_interval=0.5, timeout=6.0)
"""A reply that has not started within 6 s is tried again, twice: a caller is waiting, and a
hung server must not hold the line for the framework's default 4 x 10 s before the failsafe
apologises. (The first token of a healthy self-hosted model is well inside 6 s.)"""

MAX_TOOL_STEPS = 5
"""Tool rounds per caller turn: identify, then transfer, with room to recover from an error."""


def create_session(
    state: CallState,
    *,
    llm: LLM,
    vad: VAD | None = None,
    turn_handling: TurnHandlingOptions | None = None,
    conn_options: SessionConnectOptions | None = None,
) -> AgentSession[CallState]:
    """The session for one call. Speech models are per persona (on the agents); with no VAD
    and no speech models it is a text-only session, as in the tests. `turn_handling` comes
    from agent.turn_taking (the worker); without it, no turn detector and VAD barge-in."""
    return AgentSession[CallState](
        userdata=state,
        llm=llm,
        vad=vad,
        turn_handling=turn_handling
        or TurnHandlingOptions(turn_detection=None, interruption={"mode": "vad"}),
        max_tool_steps=MAX_TOOL_STEPS,
        conn_options=conn_options or SessionConnectOptions(llm_conn_options=LLM_CONNECT),
    )


async def start_call(
    session: AgentSession[CallState],
    state: CallState,
    *,
    room: NotGivenOr[rtc.Room] = NOT_GIVEN,
    room_options: NotGivenOr[room_io.RoomOptions] = NOT_GIVEN,
    local_voice: Callable[[str], tts.TTS] | None = None,
    capture_run: bool = False,
) -> tuple[CallRecorder, RunResult | None]:
    """Record the agent as joined and start the department's persona, which greets first.

    With `capture_run` the greeting is returned as a RunResult (tests)."""
    recorder = CallRecorder(session, state)
    ProviderFailsafe(session, state, local_voice=local_voice)
    await state.crm.run(
        crm_calls.mark_agent_joined, call_id=state.call_id, worker=state.worker_name
    )
    state.crm.submit(
        crm_calls.add_event, call_id=state.call_id, kind="agent_joined", persona=state.persona.value
    )
    agent = build_agent(state.persona, state)
    if capture_run:
        result = await session.start(agent, capture_run=True, room=room, room_options=room_options)
        return recorder, result
    await session.start(agent, room=room, room_options=room_options)
    return recorder, None
