"""Identity levels, one-time codes and their limits, and linking, in the CRM store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlite_utils import Database

from app.crm import Conflict, InvalidInput, identity
from app.crm import clock as crm_clock
from app.crm.calls import (
    create_call,
    get_call,
    list_events,
    mark_agent_joined,
    set_claimed_details,
)
from app.crm.customers import create_customer, get_customer
from app.crm.follow_ups import schedule_follow_up
from app.crm.quotes import create_quote
from app.crm.tickets import list_tickets, open_ticket

PHONE = "+966501112233"


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(crm_clock, "now", fake.now)
    monkeypatch.setattr(identity, "now", fake.now)
    monkeypatch.setattr(identity, "now_iso", lambda: crm_clock.iso(fake.now()))
    return fake


@pytest.fixture
def customer(db: Database) -> dict:
    return create_customer(db, name="Layla", phone=PHONE, email="layla@example.com")


def a_call(db: Database, room: str = "r1", **fields: object) -> dict:
    return create_call(db, room=room, language="en", department="reception", **fields)


def verify(db: Database, call: dict, code: str, phone: str = PHONE) -> identity.Verification:
    return identity.verify_code(db, call_id=call["id"], phone=phone, code=code, region="SA")


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_levels_of_a_new_call(db: Database, customer: dict):
    assert a_call(db, "a")["identity_level"] == "anonymous"
    assert a_call(db, "b", caller_phone=PHONE)["identity_level"] == "claimed"
    assert a_call(db, "c", caller_name="Layla")["identity_level"] == "claimed"
    verified = a_call(db, "d", customer_id=customer["id"], identity_method="trusted_token")
    assert (verified["identity_level"], verified["identity_method"]) == (
        "verified",
        "trusted_token",
    )
    with pytest.raises(InvalidInput):
        a_call(db, "e", customer_id=customer["id"])


def test_a_code_verifies_the_call_once(db: Database, customer: dict):
    issued = identity.issue_code(db, customer_id=customer["id"])
    assert len(issued["code"]) == 6 and issued["code"].isdigit()
    stored = db.execute("SELECT code_hash FROM verification_codes").fetchone()[0]
    assert issued["code"] not in stored

    call = a_call(db, caller_phone=PHONE)
    spoken = " ".join(issued["code"])  # said digit by digit, as an STT may write it
    assert verify(db, call, spoken) == identity.Verification("verified", customer["id"])
    row = get_call(db, call_id=call["id"])
    assert (row["identity_level"], row["identity_method"], row["customer_id"]) == (
        "verified",
        "in_call_code",
        customer["id"],
    )
    # used: another call cannot use it again
    assert verify(db, a_call(db, "r2"), issued["code"]).result == "wrong"


def test_arabic_digits_are_accepted(db: Database, customer: dict):
    code = identity.issue_code(db, customer_id=customer["id"])["code"]
    arabic = code.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert verify(db, a_call(db), arabic, phone="٠٥٠١١١٢٢٣٣").result == "verified"


def test_a_new_code_replaces_the_old_one_and_codes_expire(db: Database, customer, clock):
    first = identity.issue_code(db, customer_id=customer["id"])["code"]
    second = identity.issue_code(db, customer_id=customer["id"])["code"]
    if first != second:
        assert verify(db, a_call(db, "a"), first).result == "wrong"
    clock.advance(identity.CODE_TTL + timedelta(seconds=1))
    assert verify(db, a_call(db, "b"), second).result == "wrong"


def test_a_call_is_locked_after_its_attempts(db: Database, customer: dict):
    code = identity.issue_code(db, customer_id=customer["id"])["code"]
    call = a_call(db)
    lefts = [verify(db, call, wrong_code(code)).attempts_left for _ in range(2)]
    assert lefts == [2, 1]
    assert verify(db, call, wrong_code(code)).result == "locked"
    assert verify(db, call, code).result == "locked"  # even the right code, on this call
    kinds = [(e["kind"], e["data"].get("result")) for e in list_events(db, call_id=call["id"])]
    assert kinds[-4:] == [("verification_attempt", r) for r in ("wrong",) * 3 + ("locked",)]
    assert code not in json.dumps(list_events(db, call_id=call["id"]))
    assert get_call(db, call_id=call["id"])["identity_level"] == "anonymous"


def test_a_record_is_locked_across_calls_for_a_while(db: Database, customer: dict, clock):
    code = identity.issue_code(db, customer_id=customer["id"])["code"]
    failures = 0
    room = 0
    while failures < identity.MAX_FAILURES_PER_RECORD:
        room += 1
        call = a_call(db, f"redial-{room}")
        for _ in range(min(identity.MAX_ATTEMPTS_PER_CALL - 1, 5 - failures)):
            assert verify(db, call, wrong_code(code)).result == "wrong"
            failures += 1
    # a fresh call with the right code: the record is locked, and says so no differently than
    # a wrong code would
    fresh = a_call(db, "fresh")
    assert verify(db, fresh, code) == identity.Verification("wrong", attempts_left=2)
    clock.advance(identity.RECORD_LOCK_WINDOW + timedelta(seconds=1))
    code = identity.issue_code(db, customer_id=customer["id"])["code"]  # the first expired
    assert verify(db, a_call(db, "later"), code).result == "verified"


def test_an_unknown_number_answers_like_a_wrong_code(db: Database, customer: dict):
    identity.issue_code(db, customer_id=customer["id"])
    unknown = verify(db, a_call(db, "a"), "123456", phone="+966509990000")
    known = verify(db, a_call(db, "b"), "abc", phone=PHONE)
    assert unknown == known == identity.Verification("wrong", attempts_left=2)


def test_verifying_attaches_what_the_caller_opened_on_the_call(db: Database, customer: dict):
    call = a_call(db, caller_phone=PHONE)
    ticket = open_ticket(db, customer_id=None, call_id=call["id"], subject="Broken login")
    code = identity.issue_code(db, customer_id=customer["id"])["code"]
    verify(db, call, code)
    assert [t["id"] for t in list_tickets(db, customer_id=customer["id"])] == [ticket["id"]]


def test_an_operator_links_an_unverified_call_with_its_items(db: Database, customer: dict):
    call = a_call(db)
    set_claimed_details(db, call_id=call["id"], name="Layla", phone="0501112233", interest="web")
    ticket = open_ticket(db, customer_id=None, call_id=call["id"], subject="Broken login")
    quote = create_quote(
        db, customer_id=None, call_id=call["id"], items=[{"service_code": "website"}]
    )
    due = crm_clock.now() + timedelta(days=2)
    schedule_follow_up(db, customer_id=None, call_id=call["id"], due_at=due)
    [unlinked] = identity.list_unlinked(db)
    assert (unlinked["id"], unlinked["caller_phone"], unlinked["identity_level"]) == (
        call["id"],
        PHONE,
        "claimed",
    )
    assert [t["id"] for t in unlinked["tickets"]] == [ticket["id"]]
    assert [q["id"] for q in unlinked["quotes"]] == [quote["id"]]
    assert len(unlinked["follow_ups"]) == 1

    linked = identity.link_call(db, call_id=call["id"], customer_id=customer["id"])
    assert linked["customer_id"] == customer["id"] and linked["identity_level"] == "claimed"
    assert identity.list_unlinked(db) == []
    assert [t["id"] for t in list_tickets(db, customer_id=customer["id"])] == [ticket["id"]]
    event = list_events(db, call_id=call["id"])[-1]
    assert event["kind"] == "linked"
    assert event["data"] == {
        "customer_id": customer["id"],
        "by": "operator",
        "tickets": 1,
        "quotes": 1,
        "follow_ups": 1,
    }
    # the caller opens another ticket after the link (the agent still takes them as unverified)
    later = open_ticket(db, customer_id=None, call_id=call["id"], subject="And the printer")
    assert [c["id"] for c in identity.list_unlinked(db)] == [call["id"]]
    identity.link_call(db, call_id=call["id"], customer_id=customer["id"])
    assert later["id"] in [t["id"] for t in list_tickets(db, customer_id=customer["id"])]
    other = create_customer(db, name="Other", phone="+966509990001")
    with pytest.raises(Conflict):
        identity.link_call(db, call_id=call["id"], customer_id=other["id"])
    assert get_customer(db, customer_id=customer["id"]) == customer


def test_a_call_verified_by_caller_id_links_only_to_the_proven_number(db: Database, customer):
    call = a_call(db)
    identity.mark_caller_id(db, call_id=call["id"], phone="+966509990002", region="SA")
    with pytest.raises(Conflict):
        identity.link_call(db, call_id=call["id"], customer_id=customer["id"])
    proven = create_customer(db, name="Proven", phone="+966509990002")
    assert (
        identity.link_call(db, call_id=call["id"], customer_id=proven["id"])["customer_id"]
        == (proven["id"])
    )


def test_proof_wins_over_an_operators_link_and_says_so(db: Database, customer: dict):
    other = create_customer(db, name="Guess", phone="+966509990003")
    call = a_call(db, caller_phone=PHONE)
    identity.link_call(db, call_id=call["id"], customer_id=other["id"])
    code = identity.issue_code(db, customer_id=customer["id"])["code"]
    assert verify(db, call, code).result == "verified"
    assert get_call(db, call_id=call["id"])["customer_id"] == customer["id"]
    conflict = list_events(db, call_id=call["id"])[-2]
    assert conflict["kind"] == "identity_conflict"
    assert conflict["data"] == {
        "linked_customer_id": other["id"],
        "verified_customer_id": customer["id"],
    }


def test_a_failed_call_spends_the_codes_it_tried(db: Database, customer: dict):
    code = identity.issue_code(db, customer_id=customer["id"])["code"]
    call = a_call(db, "a")
    # the right code with a wrong number, then wrong codes: the call locks
    verify(db, call, code, phone="+966509990004")
    for _ in range(2):
        verify(db, call, wrong_code(code))
    assert verify(db, a_call(db, "b"), code).result == "wrong"  # said on call a: spent


def test_a_malformed_number_is_an_attempt_like_any_other(db: Database, customer: dict):
    call = a_call(db)
    assert verify(db, call, "123456", phone="12") == identity.Verification("wrong", attempts_left=2)


def test_caller_id_verifies_the_number_and_its_record(db: Database, customer: dict):
    known = identity.mark_caller_id(db, call_id=a_call(db, "a")["id"], phone=PHONE, region="SA")
    assert (known["identity_method"], known["customer_id"]) == ("caller_id", customer["id"])
    new = identity.mark_caller_id(
        db, call_id=a_call(db, "b")["id"], phone="+966559990000", region="SA"
    )
    assert (new["identity_level"], new["customer_id"], new["caller_phone"]) == (
        "verified",
        None,
        "+966559990000",
    )


def test_called_before_means_an_answered_call(db: Database, customer: dict):
    first = a_call(db, "a", customer_id=customer["id"], identity_method="trusted_token")
    assert not identity.has_called_before(db, customer_id=customer["id"], call_id=first["id"])
    second = a_call(db, "b", customer_id=customer["id"], identity_method="trusted_token")
    # the first call's page was opened, but no agent ever answered it
    assert not identity.has_called_before(db, customer_id=customer["id"], call_id=second["id"])
    mark_agent_joined(db, call_id=first["id"])
    assert identity.has_called_before(db, customer_id=customer["id"], call_id=second["id"])


def test_an_item_needs_a_customer_or_a_call(db: Database):
    with pytest.raises(InvalidInput, match="customer, or the call"):
        open_ticket(db, customer_id=None, subject="x")
