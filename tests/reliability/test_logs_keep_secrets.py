"""The API's own log never holds a secret or a caller's personal data: not the operator key,
the LiveKit secret, the token endpoint key or a call token, nor a phone number (in any format),
an email address or a customer's name, whatever route they travelled through."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.api.conftest import RunningApi, running_api
from tests.support import wait_until

# Saudi mobile numbers (national significant number, 9 digits) written the ways callers do.
CUSTOMERS = [
    ("559817342", "Nadia.Qasim@example.com", "Nadia Qasim"),
    ("546203918", "omar.haddad+calls@example.org", "Omar Haddad"),
    ("581749260", "lina.harbi77@mail.example.net", "لينا الحربي"),
]
UNKNOWN_NUMBER = "537162849"
NUMBERS = [nsn for nsn, _, _ in CUSTOMERS] + [UNKNOWN_NUMBER]
EMAILS = [email for _, email, _ in CUSTOMERS]
NAMES = [name for _, _, name in CUSTOMERS]
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def formats(nsn: str) -> list[str]:
    return [
        f"0{nsn}",
        f"+966{nsn}",
        f"00966{nsn}",
        f"0{nsn[:2]} {nsn[2:5]} {nsn[5:]}",
        f"+966 {nsn[:2]} {nsn[2:5]} {nsn[5:]}",
        f"(0{nsn[:2]}) {nsn[2:5]}-{nsn[5:]}",
        f"0{nsn}".translate(ARABIC_DIGITS),
    ]


def phone_pattern(nsn: str) -> re.Pattern[str]:
    """The number's digits in order, whatever separators (also URL-encoded) stand between."""
    gap = r"(?:[\s().+-]|%20|%2[bBdD8-9])*"
    return re.compile(gap.join(nsn))


@pytest.fixture(scope="module")
def api() -> Iterator[RunningApi]:
    with running_api(
        {
            "LIVEKIT_API_KEY": "APIreliability",
            "LIVEKIT_API_SECRET": secrets.token_urlsafe(32),
            "TOKEN_ENDPOINT_KEY": secrets.token_urlsafe(24),
        }
    ) as running:
        yield running


def test_the_log_holds_no_key_token_phone_email_or_name(api: RunningApi):
    log_start = len(api.log())
    sent: list[httpx.Request] = []
    hooks = {"request": [sent.append]}
    operator = httpx.Client(
        base_url=api.base_url, headers={"X-API-Key": api.operator_key}, event_hooks=hooks
    )
    bearer = httpx.Client(
        base_url=api.base_url,
        headers={"Authorization": f"Bearer {api.operator_key}"},
        event_hooks=hooks,
    )
    anon = httpx.Client(base_url=api.base_url, event_hooks=hooks)
    call_key = api.env["TOKEN_ENDPOINT_KEY"]
    tokens: list[str] = []
    try:
        for i, (nsn, email, name) in enumerate(CUSTOMERS):
            written = formats(nsn)
            created = operator.post(
                "/api/customers", json={"name": name, "phone": written[i], "email": email}
            )
            assert created.status_code == 201, created.text
            customer_id = created.json()["id"]
            for form in written:
                found = operator.get("/api/customers/lookup", params={"phone": form})
                assert found.status_code == 200 and found.json()["id"] == customer_id, form
            for term in (email, nsn, name):
                listed = bearer.get("/api/customers", params={"search": term})
                assert [c["id"] for c in listed.json()] == [customer_id], term
            changed = operator.patch(
                f"/api/customers/{customer_id}", json={"email": email.upper(), "phone": written[4]}
            )
            assert changed.status_code == 200, changed.text
            duplicate = operator.post("/api/customers", json={"phone": written[5]})
            assert duplicate.status_code == 422, duplicate.text
            call = anon.post("/api/calls", json={"phone": written[3], "name": name})
            assert call.status_code == 201, call.text
            tokens.append(call.json()["token"])
            token = anon.post(
                "/api/token",
                headers={"X-Call-Key": call_key},
                json={"participant_attributes": {"phone": written[6], "name": name}},
            )
            assert token.status_code == 201, token.text
            tokens.append(token.json()["participant_token"])
            # the typed number is a claim, kept on the call: the personal data reaches the CRM
            claimed = operator.get(f"/api/calls/{call.json()['call_id']}").json()
            assert claimed["caller_phone"] == f"+966{nsn}", claimed
        # Numbers nobody has, and malformed ones: refused, and not logged either.
        unknown = f"0{UNKNOWN_NUMBER}"
        assert operator.get("/api/customers/lookup", params={"phone": unknown}).status_code == 404
        bad = operator.get("/api/customers/lookup", params={"phone": unknown[:6]})
        assert bad.status_code == 422
        assert anon.post("/api/calls", json={"phone": f"{unknown}99"}).status_code == 422
        wrong = anon.get("/api/customers", headers={"X-API-Key": "wrong-" + api.operator_key[6:]})
        assert wrong.status_code == 401
    finally:
        for client in (operator, bearer, anon):
            client.close()

    # Every request has its access-log line before the log is read.
    def access_lines() -> list[str]:
        return [line for line in api.log()[log_start:].splitlines() if "ornina.access" in line]

    wait_until(lambda: len(access_lines()) >= len(sent), timeout=10, what="the access log")
    log = api.log()[log_start:]
    assert "GET /api/customers/lookup 200" in log and "POST /api/token 201" in log

    leaks = []
    for label, value in [
        ("operator key", api.operator_key),
        ("LiveKit secret", api.env["LIVEKIT_API_SECRET"]),
        ("token endpoint key", call_key),
        *(("call token", token) for token in tokens),
        *(("call token signature", token.rsplit(".", 1)[1]) for token in tokens),
    ]:
        if value in log:
            leaks.append(label)
    for nsn in NUMBERS:
        arabic = formats(nsn)[-1]
        spelled = (arabic, quote(arabic), json.dumps(arabic).strip('"'))
        if phone_pattern(nsn).search(log) or any(form in log for form in spelled):
            leaks.append(f"phone number ending {nsn[-2:]}")
    for email in EMAILS:
        local, _, domain = email.lower().partition("@")
        if local in log.lower() or f"{local}%40" in log.lower():
            leaks.append(f"email at {domain}")
    for name in NAMES:
        if name in log or name.replace(" ", "%20") in log or name.replace(" ", "+") in log:
            leaks.append("a customer's name")
    assert not leaks, f"the API log holds: {', '.join(leaks)}"
