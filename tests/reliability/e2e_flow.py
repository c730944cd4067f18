"""Steps of a real call through the bundle shared by the reliability tests: a caller who is
greeted, speaks one sentence (espeak-ng audio, transcribed by the provider double), listens,
and hangs up; then the call as the CRM closed it."""

from __future__ import annotations

from tests.e2e.bundle import Bundle
from tests.e2e.caller import Caller
from tests.provider_double.client import ProviderDouble
from tests.support import wait_until

FRAMES_OF_SPEECH = 25
"""Loud 20 ms frames that count as "the caller heard speech" (half a second)."""


async def greeted_caller(bundle: Bundle, **body: object) -> Caller:
    """A caller who placed a call (POST /api/calls with `body`), was answered and heard the
    greeting to its end."""
    caller = Caller(bundle.api_url)
    await caller.join(**body)
    try:
        await caller.wait_for_agent(timeout=15)
        await caller.wait_for_speech(since=caller.joined_at, timeout=30)
        await caller.wait_for_quiet()
    except BaseException:
        await caller.hang_up()
        raise
    return caller


async def speak(caller: Caller, double: ProviderDouble, text: str, language: str) -> float:
    """The caller says `text`; the double will transcribe it. Returns when the speech ended."""
    await double.autterances([{"text": text, "language": language}])
    return await caller.say(text, language)


def call_record(bundle: Bundle, call_id: int) -> dict:
    response = bundle.api("GET", f"/api/calls/{call_id}", operator=True)
    assert response.status_code == 200, response.text
    return response.json()


def ended_call(bundle: Bundle, call_id: int, timeout: float = 30.0) -> dict:
    """The call once the CRM shows it ended."""
    return wait_until(
        lambda: (call := call_record(bundle, call_id))["status"] == "ended" and call,
        timeout=timeout,
        interval=0.2,
        what=f"call {call_id} to be closed in the CRM",
    )


def agent_turns(call: dict) -> list[str]:
    return [turn["text"] for turn in call["transcript"] if turn["role"] == "agent"]
