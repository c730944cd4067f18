"""A whole call on the call page, in a real LiveKit room, with a scripted agent participant
standing in for the worker: the agent joins, speaks (its audio plays, its words are captioned),
the caller's words are captioned, a transfer is shown, mute reaches the room, hang-up leaves it.

The real worker is exercised the same way in test_real_call.py (the end-to-end bundle)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from app.routers.pages import STATIC
from tests.api.conftest import RunningApi, running_api
from tests.browser.conftest import LATIN, PHONE, screenshot, visible_text
from tests.browser.scripted_agent import ScriptedAgent
from tests.support import wait_until

# the dev key pair of the embedded server is short; PyJWT says so on every token
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
STRINGS = json.loads((STATIC / "i18n.json").read_text(encoding="utf-8"))
SCRIPT = {
    "en": {
        "greeting": "Welcome to Ornina, this is Ahmed at Reception.",
        "caller": "I would like a quote for a website",
        "sales": "Hello, this is Sarah from Sales.",
        "reception": "Ahmed, Reception",
        "sarah": "Sarah, Sales",
    },
    "ar": {
        "greeting": "أهلاً بك في أورنينا، معك أحمد من الاستقبال.",
        "caller": "أريد عرض سعر لموقع إلكتروني",
        "sales": "مرحباً، معك سارة من المبيعات.",
        "reception": "أحمد، الاستقبال",
        "sarah": "سارة، المبيعات",
    },
}


@pytest.fixture(scope="module")
def live_api(livekit_url: str) -> Iterator[RunningApi]:
    with running_api({"LIVEKIT_URL": livekit_url}) as api:
        yield api


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_call_with_greeting_captions_transfer_mute_and_hang_up(
    open_page, live_api: RunningApi, livekit_url: str, lang: str
):
    words, strings = SCRIPT[lang], STRINGS[lang]
    page = open_page(live_api.base_url)
    page.goto(f"/?lang={lang}")
    page.locator("#name").fill("Lina")
    with page.expect_response("**/api/calls") as response:
        page.locator("#start").click()
    started = response.value.json()
    call = page.locator("#call")
    expect(call).to_have_attribute("data-state", "waiting")
    expect(page.locator("#status")).to_have_text(strings["call_status_waiting"])

    agent = ScriptedAgent(livekit_url, started["room"], "devkey", "secret")
    try:
        attributes = {"ornina.persona": "reception", "ornina.language": lang}
        agent.run(agent.join(**attributes, **{"lk.agent.state": "listening"}))
        expect(call).to_have_attribute("data-state", "in-call")
        expect(page.locator("#speaker-name")).to_have_text(words["reception"])
        expect(page.locator("#agent-state")).to_have_text(strings["call_state_listening"])

        # the greeting: heard (the page measures the agent's audio) and captioned
        agent.run(agent.set(**{"lk.agent.state": "speaking"}))
        expect(page.locator("#agent-state")).to_have_text(strings["call_state_speaking"])
        agent.run(agent.say(words["greeting"]))
        expect(call).to_have_attribute("data-heard-agent", "true")
        greeting = page.locator('#captions li[data-role="agent"]').first
        expect(greeting).to_contain_text(words["greeting"])
        expect(greeting.locator(".who")).to_have_text(
            words["reception"].split("،")[0].split(",")[0]
        )
        agent.run(agent.set(**{"lk.agent.state": "listening"}))

        # the caller's words, interim then final, in one caption
        agent.run(agent.hear(words["caller"]))
        mine = page.locator('#captions li[data-role="caller"]')
        expect(mine).to_have_count(1)
        expect(mine).to_have_attribute("data-final", "true")
        expect(mine.locator(".text")).to_have_text(words["caller"])
        expect(mine.locator(".who")).to_have_text(strings["call_you"])

        # the transfer: a visible moment, and the speaker changes; the buttons stay put
        mute_box = page.locator("#mute").bounding_box()
        agent.run(agent.set(**{"ornina.persona": "sales"}))
        transfer = page.locator("#transfer")
        expect(transfer).to_be_visible()
        assert page.locator("#mute").bounding_box() == mute_box, "the mute button moved"
        expect(transfer).to_have_text(strings["call_transferred"].format(persona=words["sarah"]))
        expect(page.locator("#speaker-name")).to_have_text(words["sarah"])
        expect(page.locator('#captions li[data-role="transfer"]')).to_have_attribute(
            "data-persona", "sales"
        )
        agent.run(agent.say(words["sales"], seconds=0.6))
        sarah = page.locator('#captions li[data-role="agent"][data-persona="sales"]')
        expect(sarah).to_contain_text(words["sales"])

        # mute reaches the room, and comes back
        page.locator("#mute").click()
        expect(page.locator("#mute")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#mute")).to_have_text(strings["call_unmute"])
        expect(page.locator("#muted-note")).to_be_visible()
        wait_for(lambda: agent.run(agent.caller_microphone_muted()), "the caller to be muted")
        page.locator("#mute").click()
        expect(page.locator("#mute")).to_have_attribute("aria-pressed", "false")
        wait_for(lambda: not agent.run(agent.caller_microphone_muted()), "the caller to unmute")

        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the call scrolls sideways on a phone: {width}px"
        if lang == "ar":
            assert not LATIN.findall(visible_text(page)), visible_text(page)
        assert page.errors == []
        screenshot(page, f"call-{lang}-in-call.png")

        page.locator("#hangup").click()
        expect(call).to_have_attribute("data-state", "ended")
        expect(page.locator("#status")).to_have_text(strings["call_status_ended"])
        expect(page.locator("#live")).to_be_hidden()
        agent.run(agent.wait_for_caller_to_leave())
    finally:
        agent.close()


def test_the_page_ends_the_call_when_the_agent_closes_the_room(
    open_page, live_api: RunningApi, livekit_url: str
):
    page = open_page(live_api.base_url)
    page.goto("/?lang=en")
    with page.expect_response("**/api/calls") as response:
        page.locator("#start").click()
    agent = ScriptedAgent(livekit_url, response.value.json()["room"], "devkey", "secret")
    try:
        agent.run(agent.join(**{"ornina.persona": "complaints", "lk.agent.state": "listening"}))
        expect(page.locator("#speaker-name")).to_have_text("Mohammed, Complaints & Support")
        agent.run(agent.delete_room())
        expect(page.locator("#call")).to_have_attribute("data-state", "ended")
        expect(page.locator("#start")).to_be_enabled()
    finally:
        agent.close()


def wait_for(predicate, what: str) -> None:
    wait_until(predicate, timeout=10, interval=0.1, what=what)
