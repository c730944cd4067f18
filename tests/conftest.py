"""Suite-wide ordering: the browser tests run last.

Playwright's sync API keeps an event loop running in the main thread while its session-scoped
browser is open; asyncio tests collected after it would find that loop running.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: "tests/browser/" in item.nodeid.replace("\\", "/"))
