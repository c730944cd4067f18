"""Playwright for the public-mode browser test (the same session fixture as tests/browser)."""

from tests.browser.conftest import playwright  # noqa: F401
