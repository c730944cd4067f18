"""Headless Chromium (Debian's package, /usr/bin/chromium) driven by Playwright, against a real
API process, with a fake microphone fed from a WAV file.

No `playwright install`: Playwright's own driver launches the system Chromium. A page gets the
microphone only when its context is granted the permission; otherwise the prompt is denied, as
a caller who refuses it would.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.api.conftest import RunningApi, running_api

# the provider double and the end-to-end bundle, module-scoped, for the real-call tests
from tests.e2e.conftest import _fresh_double, bundle, double  # noqa: F401
from tests.provider_double.server import make_wav
from tests.support import PROJECT_ROOT, running_livekit

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TIMEOUT_MS = 15_000
# Latin letters; the Arabic page may show digits and punctuation but no English word.
LATIN = re.compile(r"[A-Za-z]")


def chromium_args(fake_audio: Path) -> list[str]:
    return [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--deny-permission-prompts",
        "--autoplay-policy=no-user-gesture-required",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={fake_audio}",
    ]


def launch_chromium(playwright: Playwright, fake_audio: Path) -> Browser:
    """Debian's Chromium with `fake_audio` (a WAV) as the microphone. Playwright gives every
    launch a fresh temporary profile (--user-data-dir) and removes it on close."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=chromium_args(fake_audio), timeout=30_000
    )


def silent_wav(path: Path, seconds: float = 1.0, rate: int = 48_000) -> Path:
    path.write_bytes(make_wav(b"\x00\x00" * int(rate * seconds), rate))
    return path


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    with tempfile.TemporaryDirectory(prefix="ornina-chromium-") as tmp:
        browser = launch_chromium(playwright, silent_wav(Path(tmp) / "silence.wav"))
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def livekit_url() -> Iterator[str]:
    """The embedded LiveKit server (bin/livekit-server, config/livekit.yaml) on free ports."""
    with running_livekit() as url:
        yield url


@pytest.fixture(scope="session")
def web_api() -> Iterator[RunningApi]:
    """The API process the page tests load pages from (no LiveKit server, no worker)."""
    with running_api() as api:
        yield api


def new_page(
    browser: Browser,
    base_url: str,
    *,
    microphone: bool = True,
    viewport: dict | None = None,
    locale: str = "en-US",
) -> Page:
    """A page in a fresh context; `microphone=False` leaves the permission to be refused."""
    context: BrowserContext = browser.new_context(
        base_url=base_url,
        viewport=viewport or PHONE,
        locale=locale,
        permissions=["microphone"] if microphone else [],
        accept_downloads=True,
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
    return page


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def visible_text(page: Page) -> str:
    """What a person sees: rendered text plus the attributes a screen shows or reads out."""
    return page.evaluate(
        """() => {
            const parts = [document.title, document.body.innerText];
            for (const node of document.querySelectorAll('[placeholder],[aria-label],[title]')) {
                if (node.checkVisibility && !node.checkVisibility()) continue;
                for (const name of ['placeholder', 'aria-label', 'title']) {
                    if (node.getAttribute(name)) parts.push(node.getAttribute(name));
                }
            }
            return parts.join('\\n');
        }"""
    )


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Opens pages like `new_page`; their contexts are closed after the test."""
    contexts: list[BrowserContext] = []

    def open_(base_url: str, **options: object) -> Page:
        page = new_page(browser, base_url, **options)
        contexts.append(page.context)
        return page

    yield open_
    for context in contexts:
        context.close()


def sentences(text: str) -> list[str]:
    """A reply as the call page captions it: the persona's voice starts on its first sentence
    on its own (agent/output_guard.py), so the first sentence is one caption and the rest the
    next; `expect(agent_captions).to_contain_text(sentences(reply))` finds them in order."""
    first, _, rest = text.partition(". ")
    return [f"{first}.", rest] if rest else [text]
