"""Turn-taking with a speaking caller, through the bundle: a caller who pauses mid-sentence is
not answered until they finish, and a finished sentence is answered without waiting for the
longest endpointing delay (agent/turn_taking.py). The maximum delay is raised to 8 s here, so
the difference between the two is unmistakable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.bundle import Bundle, running_bundle
from tests.e2e.caller import Caller
from tests.provider_double.client import ProviderDouble
from tests.support import wait_until

MAX_DELAY = 8.0
PAUSE = 1.5
"""A caller's pause inside the sentence: longer than the VAD's silence and the shortest delay,
shorter than the longest."""
REPLY = {"en": "Thank you, I have noted it.", "ar": "شكراً، لقد سجلت ذلك."}
PAUSED = {"en": ["My number is", "0944 111 222."], "ar": ["رقمي", "0944 111 222."]}
FINISHED = {"en": "Please check my tickets.", "ar": "من فضلك تحقق من تذاكري."}


@pytest.fixture(scope="module")
def bundle(double: ProviderDouble, request: pytest.FixtureRequest) -> Iterator[Bundle]:
    env = {"ENDPOINTING_MAX_DELAY": str(MAX_DELAY)}
    with running_bundle(double.base_url, Path(request.node.name).stem, extra_env=env) as running:
        yield running


async def _answered(bundle: Bundle, double: ProviderDouble, language: str) -> Caller:
    await double.ascript([{"match": {"last_role": "user"}, "reply": {"text": REPLY[language]}}])
    caller = Caller(bundle.api_url)
    await caller.join(language=language)
    await caller.wait_for_agent(timeout=20)
    await caller.wait_for_speech(since=caller.joined_at, timeout=30)
    await caller.wait_for_quiet()
    return caller


def _caller_turns(bundle: Bundle, call_id: int) -> list[dict]:
    def ended() -> dict | None:
        call = bundle.api("GET", f"/api/calls/{call_id}", operator=True).json()
        return call if call["status"] == "ended" else None

    call = wait_until(ended, timeout=30, what="the call to end in the CRM")
    return [t for t in call["transcript"] if t["role"] == "caller"]


@pytest.mark.parametrize("language", ["en", "ar"])
async def test_a_caller_who_pauses_mid_sentence_is_answered_once_they_finish(
    bundle: Bundle, double: ProviderDouble, language: str
):
    caller = await _answered(bundle, double, language)
    parts = PAUSED[language]
    try:
        await double.autterances([{"text": p, "language": language} for p in parts])
        (pause,) = await caller.say_in_parts(parts, language, PAUSE)
        heard_in_pause = [t for t in caller.heard.loud_times if pause[0] <= t <= pause[1]]
        assert heard_in_pause == [], "the agent spoke while the caller paused mid-sentence"
        await caller.wait_for_speech(since=pause[1], timeout=30)  # the reply, once finished
    finally:
        await caller.hang_up()
    (turn,) = _caller_turns(bundle, caller.call["call_id"])
    assert parts[0] in turn["text"] and parts[1] in turn["text"]


@pytest.mark.parametrize("language", ["en", "ar"])
async def test_a_finished_sentence_is_answered_without_the_longest_wait(
    bundle: Bundle, double: ProviderDouble, language: str
):
    caller = await _answered(bundle, double, language)
    try:
        await double.autterances([{"text": FINISHED[language], "language": language}])
        ended = await caller.say(FINISHED[language], language)
        await caller.wait_for_speech(since=ended, timeout=30)
    finally:
        await caller.hang_up()
    (turn,) = _caller_turns(bundle, caller.call["call_id"])
    assert turn["text"] == FINISHED[language]
    # the framework's own figure: speech end -> turn committed; held it would be 8 s
    assert turn["end_of_turn_delay"] < MAX_DELAY / 2
