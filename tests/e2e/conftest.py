"""Fixtures for end-to-end tests: the provider double and the bundle, both real processes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.bundle import Bundle, start_bundle
from tests.provider_double.client import ProviderDouble
from tests.support import PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "logs"


@pytest.fixture(scope="module")
def double() -> Iterator[ProviderDouble]:
    with ProviderDouble() as running:
        yield running


@pytest.fixture(scope="module")
def bundle(double: ProviderDouble, request: pytest.FixtureRequest) -> Iterator[Bundle]:
    running = start_bundle(double.base_url)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()
        keep_logs(running, Path(request.node.name).stem)
        shutil.rmtree(running.root, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_double(request: pytest.FixtureRequest) -> None:
    if "double" in request.fixturenames:
        request.getfixturevalue("double").reset()


def keep_logs(bundle: Bundle, name: str) -> None:
    """Copy the bundle's logs into test-artifacts/ (CI keeps them; they hold no secrets)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for log in (bundle.root / "logs").glob("*.log"):
        shutil.copy(log, ARTIFACTS / f"{name}-{log.name}")
