"""After a real call in which the caller gives their phone number, name and email (spoken, and
saved by identify_caller), no log of the bundle (api, agent, livekit, supervisord) and no log of
the provider double holds a configured secret, any of the call's phone numbers in any format,
or the caller's email address or name."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.bundle import Bundle, running_bundle
from tests.provider_double.client import ProviderDouble
from tests.reliability.e2e_flow import agent_turns, ended_call, greeted_caller, speak
from tests.reliability.test_logs_keep_secrets import formats, phone_pattern

CALLER_NSN = "501234567"  # 0501234567, the number the call is placed from
SPOKEN_NSN = "551237788"  # a second number the caller gives as their own on the call
EMAIL = "yasmin.haddad77@example.com"
NAME = "Yasmin Haddad"
SAYS = (
    f"My name is {NAME}, my mobile is 0{SPOKEN_NSN[:2]} {SPOKEN_NSN[2:5]} {SPOKEN_NSN[5:]} "
    f"and my email is {EMAIL}."
)
THANKS = "Thank you, your details are saved now."


@pytest.fixture(scope="module")
def private_bundle(double: ProviderDouble, request: pytest.FixtureRequest) -> Iterator[Bundle]:
    """A bundle whose provider key and token key are distinctive values to look for."""
    extra_env = {
        "OPENAI_API_KEY": f"sk-ornina-{secrets.token_hex(20)}",
        "TOKEN_ENDPOINT_KEY": secrets.token_urlsafe(24),
    }
    with running_bundle(
        double.base_url, Path(request.node.name).stem, extra_env=extra_env
    ) as running:
        yield running


def identify_then_thank() -> list[dict]:
    return [
        {
            "match": {"tool_offered": "identify_caller", "last_role": "user"},
            "reply": {
                "tool_calls": [
                    {
                        "name": "identify_caller",
                        "arguments": {
                            "name": NAME,
                            "phone": f"+966 {SPOKEN_NSN[:2]} {SPOKEN_NSN[2:5]} {SPOKEN_NSN[5:]}",
                            "email": EMAIL,
                            "service_interest": "a business website",
                        },
                    }
                ]
            },
        },
        {"match": {"last_role": "tool"}, "reply": {"text": THANKS}},
    ]


def leaks(text: str, secret_values: dict[str, str]) -> list[str]:
    found = [label for label, value in secret_values.items() if value in text]
    for nsn in (CALLER_NSN, SPOKEN_NSN):
        if phone_pattern(nsn).search(text) or formats(nsn)[-1] in text:
            found.append(f"phone number ending {nsn[-2:]}")
    local = EMAIL.partition("@")[0]
    if re.search(re.escape(local), text, re.IGNORECASE):
        found.append("the caller's email")
    if any(re.search(part, text, re.IGNORECASE) for part in NAME.split()):
        found.append("the caller's name")
    return found


async def test_no_log_holds_a_secret_a_phone_number_or_an_email(
    private_bundle: Bundle, double: ProviderDouble
):
    bundle = private_bundle
    await double.ascript(identify_then_thank())
    caller = await greeted_caller(
        bundle, language="en", name=NAME, phone=f"0{CALLER_NSN}", department="reception"
    )
    call_id = caller.call["call_id"]
    try:
        spoke_until = await speak(caller, double, SAYS, "en")
        await double.await_until(
            lambda log: any(s["input"] == THANKS and s.get("completed") for s in log["speech"]),
            timeout=30,
        )
        await caller.wait_for_speech(since=spoke_until, timeout=30)
        await caller.wait_for_quiet(seconds=1.0)
    finally:
        await caller.hang_up()

    call = ended_call(bundle, call_id)
    assert THANKS in agent_turns(call)
    # an unverified caller's details are kept on the call (a claim), not on a customer record
    assert (call["caller_email"], call["caller_phone"]) == (EMAIL, f"+966{SPOKEN_NSN}")
    # the personal data went through every process: the CRM has it, the double heard it
    assert any(SAYS == t["text"] for t in double.log()["transcriptions"])
    bundle.stop()  # shutdown paths log too

    secret_values = {
        "operator key": bundle.operator_key,
        "provider key": bundle.env["OPENAI_API_KEY"],
        "token endpoint key": bundle.env["TOKEN_ENDPOINT_KEY"],
    }
    logs = {path.name: path for path in (bundle.root / "logs").glob("*.log")}
    assert {"api.log", "agent.log", "livekit.log", "supervisord.log"} <= set(logs)
    assert double.log_path is not None
    logs["provider double"] = double.log_path
    found = {
        name: problems
        for name, path in logs.items()
        if (problems := leaks(path.read_text(errors="replace"), secret_values))
    }
    assert not found, f"logs hold personal data or secrets: {found}"
    assert "call dispatched" in logs["agent.log"].read_text()  # the call was logged
