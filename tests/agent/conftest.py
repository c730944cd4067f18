"""Fixtures for the agent tests: a fresh, migrated CRM file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from app.crm import connect, open_crm


@pytest.fixture(autouse=True)
def no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Agent tests never reach a provider: no key from the environment is picked up."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ELEVEN_API_KEY", "LIVEKIT_AGENT_NAME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def crm_path(tmp_path: Path) -> Path:
    path = tmp_path / "crm.sqlite3"
    open_crm(path).conn.close()
    return path


@pytest.fixture
def db(crm_path: Path) -> Iterator[Database]:
    database = connect(crm_path)
    yield database
    database.conn.close()
