"""The call page in a real browser: its language and direction, a phone-sized layout, a refused
microphone, and a call whose media server cannot be reached (the API runs without LiveKit)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from app.routers.pages import STATIC
from tests.api.conftest import RunningApi
from tests.browser.conftest import DESKTOP, LATIN, PHONE, screenshot, visible_text

STRINGS = json.loads((STATIC / "i18n.json").read_text(encoding="utf-8"))


def open_call_page(open_page: Callable[..., Page], api: RunningApi, lang: str, **kw) -> Page:
    page = open_page(api.base_url, **kw)
    page.goto(f"/?lang={lang}")
    expect(page.locator("#start")).to_be_enabled()
    return page


def test_the_arabic_page_is_right_to_left_and_entirely_arabic(open_page, web_api: RunningApi):
    page = open_call_page(open_page, web_api, "ar")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "ar")
    expect(html).to_have_attribute("dir", "rtl")
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    expect(page.locator("#start")).to_have_text(STRINGS["ar"]["call_start"])
    expect(page.locator("#status")).to_have_text(STRINGS["ar"]["call_status_idle"])
    text = visible_text(page)
    assert not LATIN.findall(text), f"Latin letters on the Arabic page: {text!r}"
    assert page.errors == []
    screenshot(page, "call-ar.png")


def test_the_english_page_is_left_to_right(open_page, web_api: RunningApi):
    page = open_call_page(open_page, web_api, "en")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text(STRINGS["en"]["call_heading"])
    expect(page.locator("#start")).to_have_text("Start call")
    # the switch leads to the Arabic page
    page.locator("#lang-switch").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page).to_have_url(f"{web_api.base_url}/?lang=ar")
    assert page.errors == []
    page.goto("/?lang=en")
    screenshot(page, "call-en.png")


def test_the_default_language_is_arabic(open_page, web_api: RunningApi):
    page = open_page(web_api.base_url)
    for path in ("/", "/?lang=fr"):
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", "ar")


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_the_page_fits_a_phone(open_page, web_api: RunningApi, lang: str):
    page = open_call_page(open_page, web_api, lang, viewport=PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone: {width}px"
    for selector in ("#name", "#phone", "#start"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    start = page.locator("#start").bounding_box()
    assert start["height"] >= 44, "the start button is too small to tap"
    assert start["y"] + start["height"] <= PHONE["height"], "start is below the first screen"


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_a_refused_microphone_says_what_to_do(open_page, web_api: RunningApi, lang: str):
    before = web_api.client().get("/api/calls", params={"limit": 500}).json()
    page = open_call_page(open_page, web_api, lang, microphone=False)
    page.locator("#start").click()
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_have_text(STRINGS[lang]["call_error_mic_denied"])
    expect(error).to_have_attribute("data-reason", "call_error_mic_denied")
    expect(page.locator("#call")).to_have_attribute("data-state", "error")
    expect(page.locator("#start")).to_be_enabled()  # they can try again after allowing it
    expect(page.locator("#live")).to_be_hidden()
    # no call was started for a caller who cannot speak
    assert web_api.client().get("/api/calls", params={"limit": 500}).json() == before
    if lang == "ar":
        assert not LATIN.findall(visible_text(page))
        screenshot(page, "call-ar-microphone-refused.png")


def test_a_call_that_cannot_reach_the_media_server_says_so(open_page, web_api: RunningApi):
    """The API hands out a LiveKit URL nothing listens on: the page must not hang."""
    page = open_call_page(open_page, web_api, "en", viewport=DESKTOP)
    page.locator("#name").fill("Lina")
    with page.expect_response("**/api/calls") as started:
        page.locator("#start").click()
    assert started.value.status == 201
    call_id = started.value.json()["call_id"]
    expect(page.locator("#error")).to_have_text(
        STRINGS["en"]["call_error_connection"], timeout=30_000
    )
    expect(page.locator("#call")).to_have_attribute("data-state", "error")
    expect(page.locator("#start")).to_be_enabled()
    call = web_api.client().get(f"/api/calls/{call_id}").json()
    assert call["caller_name"] == "Lina" and call["language"] == "en"


def test_everything_comes_from_our_own_server(open_page, web_api: RunningApi):
    page = open_page(web_api.base_url)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/?lang=en")
    expect(page.locator("#start")).to_be_enabled()
    # the LiveKit client is loaded on demand: make the page fetch it as a call would
    assert page.evaluate("import('/static/vendor/livekit-client.esm.js').then(m => m.version)")
    foreign = [url for url in requested if not url.startswith((web_api.base_url, "data:"))]
    assert not foreign, f"requests to other servers: {foreign}"
    vendor = web_api.client(key=None).get("/static/vendor/livekit-client.esm.js")
    assert vendor.status_code == 200
    assert "javascript" in vendor.headers["content-type"]
