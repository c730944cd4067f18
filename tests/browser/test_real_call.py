"""A real call from the call page, end to end: the whole bundle (supervisord with the embedded
LiveKit server, the API and the agent worker) with the provider double as the cloud, and
Chromium's fake microphone playing a WAV of the caller's sentence.

The page is muted until Ahmed's greeting has played, then unmuted for one pass of the sentence
(the double transcribes it), and muted again so the loop of the WAV does not talk over Sarah.
The dashboard then shows the call, its transcript and the transfer, and the analytics count it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Playwright, expect

from app.routers.pages import STATIC
from tests.browser.conftest import (
    DESKTOP,
    TIMEOUT_MS,
    launch_chromium,
    new_page,
    screenshot,
    sentences,
)
from tests.e2e.bundle import Bundle
from tests.provider_double import ProviderDouble, espeak_pcm, make_wav
from tests.provider_double.server import resample_pcm16
from tests.support import wait_until

STRINGS = json.loads((STATIC / "i18n.json").read_text(encoding="utf-8"))["en"]
SENTENCE = "I would like a quote for a business website please"
GREETING = "Welcome to Ornina, this is Ahmed at Reception."
SARAH_INTRO = "Hi, this is Sarah from Sales."
SARAH_REPLY = "Our business website costs fifteen hundred dollars. Shall I prepare a quote?"
RULES = [
    # Sarah, once she has the call (her prompt), continues from the transfer note
    {"match": {"system_contains": "You are Sarah"}, "reply": {"text": SARAH_REPLY}},
    # Ahmed hears the request and transfers at once
    {
        "match": {"any_user_contains": "website", "tool_offered": "transfer_to_department"},
        "reply": {
            "tool_calls": [
                {
                    "name": "transfer_to_department",
                    "arguments": {
                        "department": "sales",
                        "reason": "wants a quote for a website",
                        "summary": "Lina wants a quote for a business website.",
                    },
                }
            ]
        },
        "times": 1,
    },
]
CALL_TIMEOUT_MS = 45_000


def caller_wav(path: Path) -> Path:
    """1.5 s of silence, the sentence, 1.5 s of silence, at 48 kHz: Chromium loops it."""
    pcm, rate = espeak_pcm(SENTENCE, "en")
    speech = np.frombuffer(resample_pcm16(pcm, rate, 48_000), dtype=np.int16)
    silence = np.zeros(72_000, dtype=np.int16)
    path.write_bytes(make_wav(np.concatenate([silence, speech, silence]).tobytes(), 48_000))
    return path


@pytest.fixture(scope="module")
def speaking_browser(playwright: Playwright) -> Iterator[Browser]:
    with tempfile.TemporaryDirectory(prefix="ornina-caller-") as tmp:
        browser = launch_chromium(playwright, caller_wav(Path(tmp) / "caller.wav"))
        yield browser
        browser.close()


def test_a_real_call_from_the_page_then_on_the_dashboard(
    speaking_browser: Browser, bundle: Bundle, double: ProviderDouble
):
    double.reset()
    double.script(RULES)
    page = new_page(speaking_browser, bundle.api_url, viewport=DESKTOP)
    page.set_default_timeout(CALL_TIMEOUT_MS)
    try:
        page.goto("/?lang=en")
        page.locator("#name").fill("Lina")
        with page.expect_response("**/api/calls") as response:
            page.locator("#start").click()
        call_id = response.value.json()["call_id"]
        call = page.locator("#call")
        mute = page.locator("#mute")
        expect(mute).to_be_visible()
        mute.click()  # quiet until the greeting has played
        expect(mute).to_have_attribute("aria-pressed", "true")

        # the agent joins and the greeting plays, captioned
        expect(call).to_have_attribute("data-state", "in-call", timeout=CALL_TIMEOUT_MS)
        expect(page.locator("#speaker-name")).to_have_text("Ahmed, Reception")
        greeting = page.locator('#captions li[data-role="agent"]').first
        expect(greeting).to_contain_text(GREETING, timeout=CALL_TIMEOUT_MS)
        expect(call).to_have_attribute("data-heard-agent", "true")
        expect(greeting).to_have_attribute("data-final", "true")
        expect(call).to_have_attribute("data-agent-state", "listening")

        # the caller asks for a quote: one pass of the WAV, transcribed by the double
        double.utterances([{"text": SENTENCE, "language": "en"}])
        mute.click()
        mine = page.locator('#captions li[data-role="caller"]')
        expect(mine.first).to_contain_text(SENTENCE, timeout=CALL_TIMEOUT_MS)
        mute.click()
        expect(mute).to_have_attribute("aria-pressed", "true")

        # Ahmed transfers to Sarah: the moment is shown, and Sarah speaks
        transfer = page.locator("#transfer")
        expect(transfer).to_have_text(
            STRINGS["call_transferred"].format(persona="Sarah, Sales"), timeout=CALL_TIMEOUT_MS
        )
        expect(page.locator("#speaker-name")).to_have_text("Sarah, Sales")
        sarah = page.locator('#captions li[data-role="agent"][data-persona="sales"]')
        expect(sarah).to_contain_text(sentences(SARAH_REPLY), timeout=CALL_TIMEOUT_MS)
        expect(page.locator("#captions")).to_contain_text(SARAH_INTRO)
        assert page.errors == []
        screenshot(page, "call-en-real-call.png")

        page.locator("#hangup").click()
        expect(call).to_have_attribute("data-state", "ended")
    finally:
        page.context.close()

    def ended() -> dict | None:
        record = bundle.api("GET", f"/api/calls/{call_id}", operator=True).json()
        return record if record["status"] == "ended" else None

    record = wait_until(ended, timeout=30, what="the worker to close the call")
    assert record["personas_visited"] == ["reception", "sales"]
    spoken = [turn["text"] for turn in record["transcript"] if turn["role"] == "caller"]
    assert SENTENCE in spoken

    # the dashboard shows the call, its transcript and the transfer; analytics count it
    page = new_page(speaking_browser, bundle.api_url, viewport=DESKTOP)
    try:
        page.goto(f"/dashboard?lang=en#call/{call_id}")
        page.locator("#key").fill(bundle.operator_key)
        page.locator("#sign-in").click()
        expect(page.locator("#transcript")).to_contain_text(SENTENCE)
        expect(page.locator("#transcript")).to_contain_text(GREETING)
        expect(page.locator('#transcript li[data-persona="sales"]').first).to_be_visible()
        row = page.locator("#transfers tbody tr")
        expect(row).to_have_count(1)
        expect(row.locator("td").nth(1)).to_have_text("Ahmed, Reception")
        expect(row.locator("td").nth(2)).to_have_text("Sarah, Sales")
        screenshot(page, "dashboard-en-real-call.png")

        figures = bundle.api("GET", "/api/analytics/personas", operator=True).json()
        assert figures["calls"] == 1
        by_persona = {row["persona"]: row for row in figures["personas"]}
        assert by_persona["reception"]["calls_handled"] == 1
        assert by_persona["sales"]["calls_handled"] == 1
        assert by_persona["reception"]["transfers_out"] == 1
        assert by_persona["sales"]["transfers_in"] == 1
        assert by_persona["sales"]["latency_turns"] >= 1
        page.locator('nav a[data-tab="analytics"]').click()
        for persona, field in (
            ("reception", "transfers_out"),
            ("sales", "transfers_in"),
            ("sales", "calls_handled"),
        ):
            bar = page.locator(f'rect[data-group="{persona}"][data-series="{field}"]')
            expect(bar).to_have_attribute("data-value", "1", timeout=TIMEOUT_MS)
    finally:
        page.context.close()
