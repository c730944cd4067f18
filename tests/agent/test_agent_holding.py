"""A late LLM (agent.holding): the persona says a hold line instead of leaving the caller in
silence, then the answer; a prompt one adds nothing. Offline, through the persona's own
llm_node and the scripted LLM of tests/agent."""

from __future__ import annotations

import asyncio

import pytest
from livekit.agents.types import FlushSentinel

from agent.holding import HOLD_LINES, with_hold_lines


async def _late(pieces: list[str], delay: float):
    await asyncio.sleep(delay)  # the provider's own latency, not synchronisation
    for piece in pieces:
        yield piece


async def _collect(stream) -> list:
    return [item async for item in stream]


@pytest.mark.parametrize("language", ["en", "ar"])
async def test_a_late_first_piece_is_preceded_by_a_hold_line(language: str):
    out = await _collect(
        with_hold_lines(_late(["The answer."], 0.3), language, first_after=0.05, again_after=5)
    )
    assert out[0] == HOLD_LINES[language][0] + " "
    assert isinstance(out[1], FlushSentinel)
    assert out[2:] == ["The answer."]


async def test_a_long_wait_gets_the_second_line_and_a_prompt_reply_gets_none():
    out = await _collect(
        with_hold_lines(_late(["Done."], 0.5), "en", first_after=0.05, again_after=0.2)
    )
    lines = [x for x in out if isinstance(x, str) and x != "Done."]
    assert lines[:2] == [HOLD_LINES["en"][0] + " ", HOLD_LINES["en"][1] + " "]
    assert out[-1] == "Done."
    assert await _collect(with_hold_lines(_late(["Hi.", " There."], 0), "en")) == [
        "Hi.",
        " There.",
    ]


async def test_a_failing_stream_still_fails_after_the_hold_line():
    async def failing():
        await asyncio.sleep(0.2)
        raise RuntimeError("provider down")
        yield  # pragma: no cover

    seen = []
    with pytest.raises(RuntimeError, match="provider down"):
        async for item in with_hold_lines(failing(), "en", first_after=0.05):
            seen.append(item)
    assert seen[0] == HOLD_LINES["en"][0] + " "
