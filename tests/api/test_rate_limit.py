"""`POST /api/calls` is rate-limited per client address; nothing else is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.conftest import RunningApi, assert_error, running_api


@pytest.fixture(scope="module")
def limited() -> Iterator[RunningApi]:
    with running_api({"CALLS_RATE_LIMIT_PER_MINUTE": "3"}) as running:
        yield running


def test_the_fourth_call_in_a_minute_is_429(limited: RunningApi):
    anon = limited.client(key=None)
    operator = limited.client()
    for _ in range(3):
        assert anon.post("/api/calls", json={}).status_code == 201
    response = anon.post("/api/calls", json={})
    error = assert_error(response, 429, "rate_limited")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert str(retry_after) in error["message"]
    # Still limited; the refused attempts created no call rows.
    assert_error(anon.post("/api/calls", json={}), 429)
    assert len(operator.get("/api/calls").json()) == 3
    # Other routes are not limited.
    assert anon.get("/api/personas").status_code == 200
    assert operator.get("/api/customers").status_code == 200
