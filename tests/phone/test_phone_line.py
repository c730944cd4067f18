"""The phone line with real SIP clients: baresip and SIPp from Debian call the bundle's SIP
port (LiveKit's SIP service with Redis, the LiveKit server, API and worker under the real
supervisord.conf, the provider double for STT/LLM/TTS).

The bundle's trunk needs digest authentication and trusts caller ID; the Arabic line answers
with Reception, the English line with Sales; a person to transfer to and a customer to call back
are SIP clients that answer by themselves.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from datetime import timedelta

import pytest
from livekit import api

from app.crm import follow_ups as crm_follow_ups
from app.crm.clock import now
from app.telephony import provisioning
from personas import PersonaType, get_greeting
from tests.e2e.scripts import SALES_PRICE_REPLY
from tests.phone.conftest import ARABIC_LINE, CUSTOMER_NUMBER, SALES_LINE, PhoneLine
from tests.phone.sip_client import silence_wav, speech_wav, voiced_seconds
from tests.phone.sipp import send_invite
from tests.provider_double.client import ProviderDouble
from tests.support import wait_until

KNOWN = {"name": "Huda Nasser", "phone": "+966501110001", "email": "huda@example.com"}
ASKS_PRICE = "How much does a business website cost?"
WANTS_PERSON = "I want to talk to a real person please."
SPEAKS_AT = 7.0
"""Seconds of silence before the caller speaks: the greeting plays first."""


def call_of(phone: PhoneLine, caller_number: str) -> dict:
    """The newest call from `caller_number`, with its transcript and events, once it ended."""

    def ended() -> dict | None:
        calls = phone.bundle.api("GET", "/api/calls", operator=True, params={"channel": "phone"})
        mine = [c for c in calls.json() if c["caller_phone"] == caller_number]
        if not mine or mine[0]["status"] != "ended":
            return None
        return phone.bundle.api("GET", f"/api/calls/{mine[0]['id']}", operator=True).json()

    return wait_until(ended, timeout=45, what=f"the call from {caller_number} to end in the CRM")


def spoken(call: dict) -> list[str]:
    return [t["text"] for t in call["transcript"] if t["role"] == "agent"]


def heard_after(path, seconds: float) -> float:  # noqa: ANN001
    """Voiced seconds in a recording after `seconds` from its start."""
    trimmed = path.with_name(path.stem + "-after.wav")
    subprocess.run(["sox", str(path), str(trimmed), "trim", str(seconds)], check=True)
    return voiced_seconds(trimmed)


def test_the_bundle_runs_the_phone_line_and_provisions_it_once(phone: PhoneLine):
    bundle = phone.bundle
    ready = bundle.readyz().json()
    assert ready["checks"] == {"crm": "ok", "agent_worker": "ok", "livekit": "ok", "sip": "ok"}
    status = bundle.status()
    assert {p: status[p] for p in ("redis", "livekit", "sip", "agent", "api")} == dict.fromkeys(
        ("redis", "livekit", "sip", "agent", "api"), "RUNNING"
    )
    assert status["telephony"] == "EXITED"
    before = asyncio.run(_provisioned(bundle.env))
    # a restart of the provisioning creates nothing twice
    bundle.supervisorctl("start", "telephony")
    wait_until(
        lambda: bundle.status()["telephony"] == "EXITED" and "unchanged" in bundle.log("telephony"),
        timeout=60,
        what="the provisioning to run again",
    )
    after = asyncio.run(_provisioned(bundle.env))
    assert after == before
    assert [len(ids) for ids in after.values()] == [1, 1, 1]
    assert bundle.env["SIP_AUTH_PASSWORD"] not in bundle.log("telephony")


async def _provisioned(env: dict[str, str]) -> dict[str, list[str]]:
    """The ids of every trunk and rule in LiveKit that carries one of our names."""
    async with api.LiveKitAPI(
        env["LIVEKIT_URL"].replace("ws", "http"), env["LIVEKIT_API_KEY"], env["LIVEKIT_API_SECRET"]
    ) as lk:
        inbound = (await lk.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())).items
        rules = (await lk.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest())).items
        outbound = (await lk.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest())).items
    return {
        "inbound": [t.sip_trunk_id for t in inbound if t.name == provisioning.INBOUND],
        "rule": [r.sip_dispatch_rule_id for r in rules if r.name == provisioning.INBOUND],
        "outbound": [t.sip_trunk_id for t in outbound if t.name == provisioning.OUTBOUND],
    }


def test_a_known_customer_phones_the_sales_line_and_is_answered_by_name(
    phone: PhoneLine, double: ProviderDouble, tmp_path
):
    created = phone.bundle.api("POST", "/api/customers", operator=True, json=KNOWN)
    assert created.status_code == 201, created.text
    double.script(
        [{"match": {"tool_offered": "create_quote"}, "reply": {"text": SALES_PRICE_REPLY["en"]}}]
    )
    double.utterances([{"text": ASKS_PRICE, "language": "en"}])
    audio = speech_wav(tmp_path / "asks.wav", ASKS_PRICE, lead_silence=SPEAKS_AT, tail_silence=10)
    with phone.caller(KNOWN["phone"], audio) as caller:
        result = caller.dial(phone.uri(SALES_LINE), seconds=40)
        assert result.established, result.describe()
        assert voiced_seconds(result.heard) > 1.0, result.describe()  # the greeting
        assert heard_after(result.heard, SPEAKS_AT + 2.5) > 1.0, result.describe()  # the reply

    call = call_of(phone, KNOWN["phone"])
    assert (call["channel"], call["direction"], call["dialled_number"]) == (
        "phone",
        "inbound",
        SALES_LINE,
    )
    assert (call["identity_level"], call["identity_method"]) == ("verified", "caller_id")
    assert call["customer_id"] == created.json()["id"]
    assert (call["department"], call["language"]) == ("sales", "en")
    assert spoken(call)[0] == get_greeting(PersonaType.SALES, "en", KNOWN["name"])
    turns = [(t["role"], t["text"]) for t in call["transcript"]]
    assert ("caller", ASKS_PRICE) in turns
    assert ("agent", SALES_PRICE_REPLY["en"]) in turns


def test_an_unknown_number_is_answered_and_told_nothing_about_anyone(phone: PhoneLine, tmp_path):
    number = "+966509990042"
    with phone.caller(number, silence_wav(tmp_path / "quiet.wav", 9.0)) as caller:
        result = caller.dial(phone.uri(ARABIC_LINE), seconds=30)
        assert result.established, result.describe()
        assert voiced_seconds(result.heard) > 1.0, result.describe()
    call = call_of(phone, number)
    assert (call["channel"], call["dialled_number"], call["language"]) == (
        "phone",
        ARABIC_LINE,
        "ar",
    )
    assert spoken(call)[0] == get_greeting(PersonaType.RECEPTION, "ar")
    everything_said = " ".join(spoken(call))
    for value in KNOWN.values():
        assert value not in everything_said


def test_a_caller_who_asks_for_a_person_is_transferred_to_one(
    phone: PhoneLine, double: ProviderDouble, tmp_path
):
    number = "+966501110002"
    double.script(
        [
            {
                "match": {"last_role": "user", "any_user_contains": "person"},
                "reply": {
                    "tool_calls": [
                        {"name": "transfer_to_human", "arguments": {"reason": "asked for a person"}}
                    ]
                },
            }
        ]
    )
    double.utterances([{"text": WANTS_PERSON, "language": "en"}])
    audio = speech_wav(
        tmp_path / "person.wav", WANTS_PERSON, lead_silence=SPEAKS_AT, tail_silence=12
    )
    before = len(phone.human.recordings())
    with phone.caller(number, audio) as caller:
        result = caller.dial(phone.uri(SALES_LINE), seconds=60)
    assert result.established, result.describe()
    phone.human.wait_for_call(timeout=30)
    phone.human.wait_for_hangup(timeout=60)
    recordings = phone.human.recordings()
    assert len(recordings) == before + 1, phone.human.output
    # the person hears the caller (their client plays the same recording on the new call)
    assert voiced_seconds(recordings[-1]) > 1.0

    call = call_of(phone, number)
    transfer = next(e for e in call["events"] if e["kind"] == "human_transfer")
    assert transfer["data"]["reason"] == "asked for a person"
    assert transfer["data"]["to"] == phone.human.uri
    assert call["outcome"] == "transferred_to_human"


def test_an_operator_callback_rings_the_customer_about_a_ticket(phone: PhoneLine):
    bundle = phone.bundle
    customer = bundle.api(
        "POST",
        "/api/customers",
        operator=True,
        json={"name": "Sami Aziz", "phone": CUSTOMER_NUMBER, "language": "en"},
    ).json()
    ticket = bundle.api(
        "POST",
        "/api/tickets",
        operator=True,
        json={"customer_id": customer["id"], "subject": "Invoice shows the wrong amount"},
    ).json()
    before = len(phone.customer.recordings())
    placed = bundle.api("POST", f"/api/tickets/{ticket['id']}/callback", operator=True)
    assert placed.status_code == 202, placed.text
    call_id = placed.json()["call_id"]
    phone.customer.wait_for_call(timeout=30)
    phone.customer.wait_for_hangup(timeout=60)
    recordings = phone.customer.recordings()
    assert len(recordings) == before + 1
    assert voiced_seconds(recordings[-1]) > 1.0  # the persona greets the customer

    call = _ended(phone, call_id)
    assert (call["channel"], call["direction"], call["callback_ticket_id"]) == (
        "phone",
        "outbound",
        ticket["id"],
    )
    assert (call["identity_level"], call["identity_method"]) == ("verified", "callback")
    assert spoken(call)[0] == get_greeting(PersonaType.COMPLAINTS, "en", "Sami Aziz", callback=True)


def test_a_follow_up_callback_is_placed_by_sales(phone: PhoneLine):
    bundle = phone.bundle
    customer = bundle.api(
        "GET", "/api/customers/lookup", operator=True, params={"phone": CUSTOMER_NUMBER}
    ).json()
    db = _crm(phone)
    try:
        follow_up = crm_follow_ups.schedule_follow_up(
            db, customer_id=customer["id"], due_at=now() + timedelta(days=1), note="price check"
        )
    finally:
        db.close()
    before = len(phone.customer.recordings())
    placed = bundle.api("POST", f"/api/follow-ups/{follow_up['id']}/callback", operator=True)
    assert placed.status_code == 202, placed.text
    phone.customer.wait_for_call(timeout=30)
    phone.customer.wait_for_hangup(timeout=60)
    assert len(phone.customer.recordings()) == before + 1
    assert voiced_seconds(phone.customer.recordings()[-1]) > 1.0
    call = _ended(phone, placed.json()["call_id"])
    assert (call["department"], call["callback_follow_up_id"]) == ("sales", follow_up["id"])
    assert spoken(call)[0] == get_greeting(PersonaType.SALES, "en", "Sami Aziz", callback=True)


def _ended(phone: PhoneLine, call_id: int) -> dict:
    def ended() -> dict | None:
        call = phone.bundle.api("GET", f"/api/calls/{call_id}", operator=True).json()
        return call if call["status"] == "ended" else None

    return wait_until(ended, timeout=45, what=f"call {call_id} to end")


def _crm(phone: PhoneLine):  # noqa: ANN202
    from app.crm import connect

    return connect(phone.bundle.env["CRM_DB_PATH"])


@pytest.mark.parametrize(
    "case",
    ["unknown number", "address not allowed", "wrong password", "no credentials"],
)
def test_refused_invites_leave_nothing_in_the_crm(phone: PhoneLine, case: str):
    user, password = phone.auth
    number = {"unknown number": "+966502220001", "address not allowed": "+966502220002"}.get(
        case, "+966502220003"
    )
    options = {
        "unknown number": {"to_number": "+15559999", "auth": (user, password)},
        "address not allowed": {"local_ip": "127.0.0.2", "auth": (user, password)},
        "wrong password": {"auth": (user, password + "x")},
        "no credentials": {},
    }[case]
    options.setdefault("to_number", SALES_LINE)
    result = send_invite(phone.port, from_number=number, timeout=8, **options)
    # refused outright, or (no trunk matches) never answered: LiveKit drops such an INVITE
    assert result.code is None or result.code >= 400, result.describe()
    if case in ("wrong password", "no credentials"):
        assert result.code in (401, 403, 407), result.describe()
    # the control: the same INVITE done right is answered, and its call reaches the CRM; the
    # refused one, sent before it, never does
    control_number = number[:-1] + "9"
    control = send_invite(
        phone.port, from_number=control_number, to_number=SALES_LINE, auth=(user, password)
    )
    assert control.code == 200, control.describe()

    def callers() -> set[str] | None:
        calls = phone.bundle.api("GET", "/api/calls", operator=True, params={"limit": 200})
        numbers = {c["caller_phone"] for c in calls.json()}
        return numbers if control_number in numbers else None

    assert number not in wait_until(callers, timeout=30, what="the control call in the CRM")


@pytest.mark.parametrize("program", ["sip", "redis"])
def test_a_killed_sip_service_or_redis_comes_back_and_answers_the_next_call(
    phone: PhoneLine, program: str, tmp_path
):
    bundle = phone.bundle
    pid = bundle.pid(program)
    assert pid
    os.kill(pid, signal.SIGKILL)
    wait_until(
        lambda: bundle.pid(program) not in (0, pid), timeout=60, what=f"{program} to restart"
    )
    bundle.wait_ready(timeout=90)
    number = f"+96650333000{1 if program == 'sip' else 2}"
    with phone.caller(number, silence_wav(tmp_path / "quiet.wav", 8.0)) as caller:
        result = wait_until(
            lambda: _answered(caller, phone), timeout=60, interval=1, what="a call to be answered"
        )
        assert voiced_seconds(result.heard) > 1.0, result.describe()


def _answered(caller, phone: PhoneLine):  # noqa: ANN001, ANN202
    result = caller.dial(phone.uri(ARABIC_LINE), seconds=25)
    return result if result.established else None
