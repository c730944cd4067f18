"""Live supervision end to end: a caller on the call page (Chromium, a fake microphone playing
their sentence) talks to the agent in the real bundle; a supervisor in another browser (a fake
microphone playing their own sentence once, then silence) sees the call in the live view,
listens in, takes it over, and hands it back.

The caller's page is muted except while the caller is meant to speak, so the loop of their WAV
does not talk over anyone; the double transcribes each pass with the next queued utterance.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from agent.supervision import TAKEOVER_LINE
from tests.browser.conftest import DESKTOP, launch_chromium, new_page, screenshot, sentences
from tests.e2e.bundle import Bundle
from tests.provider_double import ProviderDouble, espeak_pcm, make_wav
from tests.provider_double.server import resample_pcm16
from tests.support import wait_until

CALLER_SAYS = "I would like a new website for my bakery please"
ANSWER = "A bakery website starts at fifteen hundred dollars."
OPERATOR_SAYS = "This is Amal from Ornina, I will take care of your order myself."
BACK = "I am back with you. Amal has noted your order."
SUMMARY = "Bakery website ordered; send the contract today."
RULES = [
    {"match": {"last_contains": "handed the call back"}, "reply": {"text": BACK}},
    {"match": {"any_user_contains": "bakery"}, "reply": {"text": ANSWER}},
]
HEARD = 0.02
TIMEOUT_MS = 45_000


def wav(path: Path, text: str, *, before: float, after: float) -> Path:
    pcm, rate = espeak_pcm(text, "en")
    speech = np.frombuffer(resample_pcm16(pcm, rate, 48_000), dtype=np.int16)
    silence = [np.zeros(int(48_000 * s), dtype=np.int16) for s in (before, after)]
    path.write_bytes(make_wav(np.concatenate([silence[0], speech, silence[1]]).tobytes(), 48_000))
    return path


@pytest.fixture(scope="module")
def browsers(playwright: Playwright) -> Iterator[tuple[Browser, Browser]]:
    with tempfile.TemporaryDirectory(prefix="ornina-supervision-") as tmp:
        caller = launch_chromium(
            playwright, wav(Path(tmp) / "c.wav", CALLER_SAYS, before=1.5, after=1.5)
        )
        # the supervisor speaks once when their microphone opens, then is quiet for a while
        supervisor = launch_chromium(
            playwright, wav(Path(tmp) / "s.wav", OPERATOR_SAYS, before=0.5, after=40.0)
        )
        yield caller, supervisor
        caller.close()
        supervisor.close()


def turns(bundle: Bundle, call_id: int) -> list[dict]:
    return bundle.api("GET", f"/api/calls/{call_id}", operator=True).json()["transcript"]


def speak_once(page: Page, double: ProviderDouble, bundle: Bundle, call_id: int) -> None:
    """One pass of the caller's sentence: unmuted until the CRM holds the new caller turn."""
    before = sum(t["role"] == "caller" for t in turns(bundle, call_id))
    double.utterances([{"text": CALLER_SAYS, "language": "en"}])
    mute = page.locator("#mute")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "false")
    wait_until(
        lambda: sum(t["role"] == "caller" for t in turns(bundle, call_id)) > before,
        timeout=30,
        what="the caller's turn in the CRM",
    )
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")


def test_listen_take_over_and_hand_back_a_live_call(
    browsers: tuple[Browser, Browser], bundle: Bundle, double: ProviderDouble
):
    double.reset()
    double.script(RULES)
    caller_browser, supervisor_browser = browsers
    dashboard = new_page(supervisor_browser, bundle.api_url, viewport=DESKTOP)
    caller = new_page(caller_browser, bundle.api_url, viewport=DESKTOP)
    for page in (dashboard, caller):
        page.set_default_timeout(TIMEOUT_MS)
    try:
        dashboard.goto("/dashboard?lang=en#calls")
        dashboard.locator("#key").fill(bundle.operator_key)
        dashboard.locator("#sign-in").click()
        expect(dashboard.get_by_role("heading", name="Live calls")).to_be_visible()

        caller.goto("/?lang=en")
        with caller.expect_response("**/api/calls") as response:
            caller.locator("#start").click()
        call_id = response.value.json()["call_id"]
        caller.locator("#mute").click()  # quiet until it is the caller's turn
        call = caller.locator("#call")
        expect(call).to_have_attribute("data-state", "in-call")

        # a. the live view shows the call within 2 s of the agent joining, with its persona
        # and, once spoken, the greeting as its last caption
        joined = time.monotonic()
        row = dashboard.locator(f'#live-calls tr[data-id="{call_id}"]')
        expect(row.locator(".badge.active")).to_be_visible(timeout=2_000)  # in progress
        assert time.monotonic() - joined <= 2.0
        expect(row.locator('[data-persona="reception"]')).to_be_visible()
        expect(row.locator(".last-caption")).to_contain_text("Welcome to Ornina")
        screenshot(dashboard, "dashboard-en-live-view.png")

        # b. listen in: both sides are heard in the supervisor's page; the caller sees no one
        row.click()
        panel = dashboard.locator("#supervision")
        dashboard.locator("#listen").click()
        expect(panel).to_have_attribute("data-mode", "listening")
        speak_once(caller, double, bundle, call_id)
        expect(caller.locator('#captions li[data-role="agent"]').last).to_contain_text(ANSWER)
        wait_until(
            lambda: (
                float(panel.get_attribute("data-heard-caller")) > HEARD
                and float(panel.get_attribute("data-heard-agent")) > HEARD
            ),
            timeout=30,
            what="both sides' audio in the supervisor's page",
        )
        expect(dashboard.locator("#live-captions")).to_contain_text(ANSWER)
        expect(call).to_have_attribute("data-remote-participants", "1")

        # c. take over: the persona announces a colleague, the caller hears the supervisor,
        # and what the caller says is recorded but not answered
        llm_requests = len(double.log()["chat"])
        double.utterances([{"text": OPERATOR_SAYS, "language": "en"}])
        dashboard.locator("#take-over").click()
        expect(panel).to_have_attribute("data-mode", "speaking")
        expect(caller.locator("#captions")).to_contain_text(TAKEOVER_LINE["en"])
        expect(call).to_have_attribute("data-heard-operator", "true")
        expect(caller.locator("#transfer")).to_contain_text("colleague")
        wait_until(
            lambda: any(t["role"] == "operator" for t in turns(bundle, call_id)),
            timeout=30,
            what="the supervisor's words in the transcript",
        )
        expect(call).to_have_attribute("data-remote-participants", "2")
        speak_once(caller, double, bundle, call_id)
        record = bundle.api("GET", f"/api/calls/{call_id}", operator=True).json()
        said = [(t["role"], t["text"], t["operator_login"]) for t in record["transcript"]]
        assert ("operator", OPERATOR_SAYS, "installation-key") in said
        after = said[[s[1] for s in said].index(TAKEOVER_LINE["en"]) + 1 :]
        assert [s for s in after if s[0] == "agent"] == []
        takeover = [e for e in record["events"] if e["kind"] == "takeover"]
        assert takeover and takeover[0]["data"]["operator"] == "installation-key"
        screenshot(dashboard, "dashboard-en-takeover.png")

        # d. hand back: the persona speaks again and answers the caller's next turn
        dashboard.locator("#handback-summary").fill(SUMMARY)
        dashboard.locator("#hand-back").click()
        expect(panel).to_have_attribute("data-mode", "ended")
        expect(caller.locator('#captions li[data-role="agent"]')).to_contain_text(sentences(BACK))
        # the supervisor left the room, and the model was first asked again for the hand-back:
        # nothing the caller said while the call was taken over was answered
        expect(call).to_have_attribute("data-remote-participants", "1")
        asked = double.log()["chat"][llm_requests:]
        assert "handed the call back" in asked[0]["last_text"], asked[0]["last_text"]
        answers = caller.locator('#captions li[data-role="agent"]', has_text=ANSWER)
        expect(answers).to_have_count(1)
        speak_once(caller, double, bundle, call_id)
        expect(answers).to_have_count(2)

        caller.locator("#hangup").click()
    finally:
        caller.context.close()
        dashboard.context.close()

    def ended() -> dict | None:
        record = bundle.api("GET", f"/api/calls/{call_id}", operator=True).json()
        return record if record["status"] == "ended" else None

    record = wait_until(ended, timeout=30, what="the call to end")
    kinds = [e["kind"] for e in record["events"]]
    assert kinds.index("supervisor_joined") < kinds.index("takeover") < kinds.index("handback")
    handback = next(e for e in record["events"] if e["kind"] == "handback")
    assert handback["data"]["summary"] == SUMMARY
    figures = bundle.api("GET", "/api/analytics/personas", operator=True).json()
    assert figures["taken_over"] >= 1
