"""Fixtures for end-to-end tests: the provider double and the bundle, both real processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.bundle import Bundle, running_bundle
from tests.provider_double.client import ProviderDouble


@pytest.fixture(scope="module")
def double() -> Iterator[ProviderDouble]:
    with ProviderDouble() as running:
        yield running


@pytest.fixture(scope="module")
def bundle(double: ProviderDouble, request: pytest.FixtureRequest) -> Iterator[Bundle]:
    with running_bundle(double.base_url, Path(request.node.name).stem) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_double(request: pytest.FixtureRequest) -> None:
    if "double" in request.fixturenames:
        request.getfixturevalue("double").reset()
