"""No provider keys configured: everything still starts, the missing keys are named, and a
caller who connects anyway hears a short spoken notice (local espeak-ng voice), not silence."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.bundle import Bundle, running_bundle
from tests.e2e.caller import Caller
from tests.support import wait_until


@pytest.fixture(scope="module")
def keyless() -> Iterator[Bundle]:
    with running_bundle(None, "no-provider-keys") as bundle:
        yield bundle


def test_ready_names_the_missing_keys(keyless: Bundle):
    ready = keyless.readyz().json()
    assert ready["status"] == "ready"
    assert ready["missing_provider_keys"] == ["OPENAI_API_KEY", "ELEVEN_API_KEY"]


@pytest.mark.parametrize("language", ["ar", "en"])
async def test_a_caller_hears_a_spoken_notice_and_the_call_is_closed(keyless: Bundle, language):
    caller = Caller(keyless.api_url)
    await caller.join(language=language)
    try:
        assert await caller.wait_for_agent(timeout=5.0) <= 5.0
        await caller.wait_for_speech(since=caller.joined_at, timeout=20)
    finally:
        await caller.hang_up()
    call_id = caller.call["call_id"]

    def closed() -> dict | None:
        call = keyless.api("GET", f"/api/calls/{call_id}", operator=True).json()
        return call if call["status"] == "ended" else None

    call = wait_until(closed, timeout=30, what="the call to be closed")
    assert call["outcome"] == "providers_not_configured"
