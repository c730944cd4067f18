"""`python -m bench.minimal_agent start`: LiveKit's minimal voice agent, the yardstick of
bench/side_by_side.py.

This is the voice agent of the livekit/agents examples (examples/voice_agents/basic_agent.py,
the framework docs' quickstart) with the providers and the turn detector of our worker: an
`AgentServer`, one `rtc_session`, an `AgentSession` of `openai.STT`, `openai.LLM` and
`openai.TTS` (pointed at whatever OPENAI_BASE_URL says: the provider double in the benchmark),
the silero VAD loaded once per job process, and an Agent of one line of instructions that
greets with `generate_reply`. No CRM, no personas, no tools, no recorder, no supervision.

What it takes from the environment, all set by bench/side_by_side.py:

- LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET, OPENAI_BASE_URL, OPENAI_API_KEY: as ours;
- STT_MODEL, TTS_MODEL, LLM_MODEL: the models our worker is configured with;
- MINIMAL_AGENT_NAME: the name it registers under (explicit dispatch only);
- MINIMAL_IDLE_PROCESSES: warm job processes (the benchmark passes our worker's number);
- MINIMAL_TURN_OPTIONS: JSON `{"vad": {silero.VAD.load kwargs}, "turn_handling": {...},
  "turn_detector": "ours" | "livekit"}`: our worker's VAD parameters and turn-handling options,
  and which turn detector (ours from agent/turn_taking.py, or LiveKit's v1-mini), so that only
  our own code differs.

Three things differ from the example, none a cost: the health server binds 127.0.0.1 on a free
port (the example's 8081 would clash with anything else on the machine); the worker never
reports itself full (`load_threshold=inf`, as in dev mode): the production default, 0.7 of the
whole machine's CPU, refused the benchmark's calls on a shared two-core machine, while ours
counts calls, not CPU (the default load function still runs and its CPU is counted); and the
call's language comes from the dispatch metadata ("en" or "ar") into
`openai.STT(language=...)`, as ours sets its STT to the call's language.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    JobContext,
    JobProcess,
    TurnHandlingOptions,
    inference,
    room_io,
)
from livekit.plugins import openai, silero

DEFAULT_AGENT_NAME = "minimal-voice-agent"
DEFAULT_IDLE_PROCESSES = 4
INSTRUCTIONS = "You are a helpful voice assistant. Keep your answers short."
GREETING = "Greet the user and offer your help."


DEFAULT_TURN_OPTIONS: dict = {
    "vad": {},
    "turn_handling": {"interruption": {"mode": "vad"}},
    "turn_detector": "livekit",
}
"""Without MINIMAL_TURN_OPTIONS: silero's and the framework's defaults, LiveKit's turn detector,
and VAD barge-in (adaptive interruption needs LiveKit Cloud)."""


def turn_options() -> dict:
    raw = os.environ.get("MINIMAL_TURN_OPTIONS")
    return json.loads(raw) if raw else DEFAULT_TURN_OPTIONS


def turn_detection() -> object:
    """ "livekit": LiveKit's local audio model; "ours": our worker's detector, imported from
    agent/turn_taking.py, so that the turn-taking is the same on both sides."""
    if turn_options().get("turn_detector") == "ours":
        from agent.turn_taking import TranscriptTurnDetector

        return TranscriptTurnDetector()
    return inference.TurnDetector(version="v1-mini")


def prewarm(proc: JobProcess) -> None:
    proc.userdata["vad"] = silero.VAD.load(**turn_options().get("vad", {}))
    turn_detection()  # its imports, before any call


server = AgentServer(
    setup_fnc=prewarm,
    load_threshold=math.inf,
    num_idle_processes=int(os.environ.get("MINIMAL_IDLE_PROCESSES", DEFAULT_IDLE_PROCESSES)),
    host="127.0.0.1",
    port=0,
)


@server.rtc_session(agent_name=os.environ.get("MINIMAL_AGENT_NAME", DEFAULT_AGENT_NAME))
async def entrypoint(ctx: JobContext) -> None:
    language = ctx.job.metadata or "en"
    session = AgentSession(
        stt=openai.STT(model=os.environ.get("STT_MODEL", "whisper-1"), language=language),
        llm=openai.LLM(model=os.environ.get("LLM_MODEL", "gpt-4.1-mini")),
        tts=openai.TTS(model=os.environ.get("TTS_MODEL", "tts-1")),
        vad=ctx.proc.userdata["vad"],
        turn_handling=TurnHandlingOptions(
            turn_detection=turn_detection(), **turn_options().get("turn_handling", {})
        ),
    )
    await session.start(
        agent=Agent(instructions=INSTRUCTIONS),
        room=ctx.room,
        room_options=room_io.RoomOptions(delete_room_on_close=True),
    )
    session.generate_reply(instructions=GREETING)


def main() -> int:
    from livekit.agents.__main__ import main as livekit_main

    if sys.argv[1:2] != ["start"]:
        print("usage: python -m bench.minimal_agent start [--log-level LEVEL]", file=sys.stderr)
        return 2
    return livekit_main(["start", str(Path(__file__).resolve()), *sys.argv[2:]])


if __name__ == "__main__":
    sys.exit(main())
