"""Per-persona analytics in the CRM store, with a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlite_utils import Database

from app.crm import InvalidInput, calls, open_crm, quotes, tickets
from app.crm import clock as crm_clock
from app.crm.analytics import _percentile, calls_export, date_range, persona_analytics
from app.crm.customers import create_customer

START = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.moment = START

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    # every store module reads the time through the clock module's `now`
    monkeypatch.setattr(crm_clock, "now", fake.now)
    for module in (calls, tickets, quotes):
        if hasattr(module, "now"):
            monkeypatch.setattr(module, "now", fake.now)
        if hasattr(module, "now_iso"):
            monkeypatch.setattr(module, "now_iso", lambda: crm_clock.iso(fake.now()))
    return fake


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    database = open_crm(tmp_path / "crm.sqlite3")
    yield database
    database.close()


def figures(db: Database, **kw) -> dict[str, dict]:
    return {row["persona"]: row for row in persona_analytics(db, **kw)["personas"]}


def a_call(db: Database, clock: Clock, room: str, *, customer_id: int | None = None) -> int:
    call = calls.create_call(
        db,
        room=room,
        language="en",
        department="reception",
        customer_id=customer_id,
        identity_method="trusted_token" if customer_id else None,
    )
    calls.mark_agent_joined(db, call_id=call["id"])
    return call["id"]


def test_an_empty_crm_has_every_persona_at_zero(db: Database):
    result = persona_analytics(db)
    assert result["calls"] == 0
    assert [row["persona"] for row in result["personas"]] == ["reception", "sales", "complaints"]
    for row in result["personas"]:
        assert row["calls_handled"] == row["transfers_in"] == row["quotes_created"] == 0
        assert row["avg_handling_seconds"] is None and row["turn_latency_p50"] is None


def test_a_transferred_call(db: Database, clock: Clock):
    customer = create_customer(db, name="Lina", phone="0501234567")
    call_id = a_call(db, clock, "room-1", customer_id=customer["id"])
    calls.add_event(db, call_id=call_id, kind="persona_entered", persona="reception")
    clock.advance(30)
    calls.add_event(
        db,
        call_id=call_id,
        kind="transfer",
        persona="reception",
        **{"from": "reception", "to": "sales"},
    )
    calls.add_event(db, call_id=call_id, kind="persona_entered", persona="sales")
    clock.advance(10)
    quotes.create_quote(
        db, customer_id=customer["id"], items=[{"service_code": "website"}], call_id=call_id
    )
    for latency in (0.4, 0.6, 1.0, 2.0):
        calls.add_turn(
            db, call_id=call_id, role="agent", text="…", persona="sales", e2e_latency=latency
        )
    calls.add_turn(db, call_id=call_id, role="caller", text="hi", e2e_latency=9.0)  # not agent
    clock.advance(20)
    calls.add_event(
        db,
        call_id=call_id,
        kind="transfer",
        persona="sales",
        **{"from": "sales", "to": "complaints"},
    )
    calls.add_event(db, call_id=call_id, kind="persona_entered", persona="complaints")
    clock.advance(5)
    tickets.open_ticket(db, customer_id=customer["id"], subject="refund", call_id=call_id)
    tickets.open_ticket(db, customer_id=customer["id"], subject="no call")  # not from a call
    clock.advance(15)
    calls.add_event(db, call_id=call_id, kind="ended", persona="complaints")
    calls.end_call(db, call_id=call_id, outcome="done")

    result = figures(db)
    reception, sales, complaints = result["reception"], result["sales"], result["complaints"]
    assert (reception["calls_handled"], sales["calls_handled"], complaints["calls_handled"]) == (
        1,
        1,
        1,
    )
    assert (reception["transfers_out"], sales["transfers_in"]) == (1, 1)
    assert (sales["transfers_out"], complaints["transfers_in"]) == (1, 1)
    assert reception["avg_handling_seconds"] == 30.0
    assert sales["avg_handling_seconds"] == 30.0
    assert complaints["avg_handling_seconds"] == 20.0
    # by the persona holding the call when they were made
    assert (sales["quotes_created"], complaints["tickets_created"]) == (1, 1)
    assert reception["quotes_created"] == reception["tickets_created"] == 0
    assert sales["latency_turns"] == 4
    assert sales["turn_latency_p50"] == 0.8  # between 0.6 and 1.0
    assert sales["turn_latency_p90"] == 1.7  # 1.0 + 0.7 * (2.0 - 1.0)
    assert reception["turn_latency_p50"] is None


def test_handling_time_averages_over_calls_and_waits_for_a_live_call_to_end(
    db: Database, clock: Clock
):
    for seconds, room in ((10, "a"), (50, "b")):
        call_id = a_call(db, clock, room)
        calls.add_event(db, call_id=call_id, kind="persona_entered", persona="reception")
        clock.advance(seconds)
        calls.end_call(db, call_id=call_id, outcome="done")  # no `ended` event: ended_at counts
    live = a_call(db, clock, "live")
    calls.add_event(db, call_id=live, kind="persona_entered", persona="reception")
    clock.advance(1000)
    reception = figures(db)["reception"]
    assert reception["calls_handled"] == 3
    assert reception["avg_handling_seconds"] == 30.0


def test_a_persona_back_twice_in_one_call_counts_once_with_both_stretches(
    db: Database, clock: Clock
):
    call_id = a_call(db, clock, "back-and-forth")
    for persona, seconds in (("reception", 5), ("sales", 10), ("reception", 7)):
        calls.add_event(db, call_id=call_id, kind="persona_entered", persona=persona)
        clock.advance(seconds)
    calls.end_call(db, call_id=call_id, outcome="done")
    result = figures(db)
    assert result["reception"]["calls_handled"] == 1
    assert result["reception"]["avg_handling_seconds"] == 12.0


def test_work_before_any_persona_entered_goes_to_the_department(db: Database, clock: Clock):
    customer = create_customer(db, name="Omar")
    call = calls.create_call(
        db,
        room="r",
        language="ar",
        department="complaints",
        customer_id=customer["id"],
        identity_method="trusted_token",
    )
    tickets.open_ticket(db, customer_id=customer["id"], subject="x", call_id=call["id"])
    assert figures(db)["complaints"]["tickets_created"] == 1


def test_the_range_selects_calls_by_when_they_started(db: Database, clock: Clock):
    first = a_call(db, clock, "may-1")
    calls.add_event(db, call_id=first, kind="persona_entered", persona="reception")
    clock.advance(86400)  # 2 May
    second = a_call(db, clock, "may-2")
    calls.add_event(db, call_id=second, kind="persona_entered", persona="sales")
    may_1 = date_range("2025-05-01", "2025-05-01")  # a date `until` includes the day
    assert persona_analytics(db, since=may_1[0], until=may_1[1])["calls"] == 1
    assert figures(db, since=may_1[0], until=may_1[1])["sales"]["calls_handled"] == 0
    both = date_range("2025-05-01", "2025-05-02")
    assert persona_analytics(db, since=both[0], until=both[1])["calls"] == 2
    assert [row["id"] for row in calls_export(db, since=both[0], until=both[1])] == [first, second]
    since_2nd = date_range("2025-05-02T00:00:00Z", None)
    assert persona_analytics(db, since=since_2nd[0])["calls"] == 1


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        ("2025-05-01", "2025-05-01", ("2025-05-01T00:00:00.000Z", "2025-05-02T00:00:00.000Z")),
        ("2025-05-01T10:00", None, ("2025-05-01T10:00:00.000Z", None)),
        ("2025-05-01T13:00:00+03:00", None, ("2025-05-01T10:00:00.000Z", None)),
        (None, "2025-05-01T10:00:00.5Z", (None, "2025-05-01T10:00:00.500Z")),
        (None, None, (None, None)),
    ],
)
def test_date_range_accepts_dates_and_times(since, until, expected):
    assert date_range(since, until) == expected


@pytest.mark.parametrize(
    ("since", "until"),
    [
        ("yesterday", None),
        (None, "2025-02-30"),
        ("2025-05-02", "2025-05-01"),
        ("2025-05-01T10:00Z", "2025-05-01T10:00Z"),
        ("0001-01-01", None),
        (None, "9999-12-31"),
        ("2025-05-01T25:00", None),
    ],
)
def test_date_range_refuses_what_is_not_a_range(since, until):
    with pytest.raises(InvalidInput):
        date_range(since, until)


def test_percentile_interpolates_between_ranks():
    assert _percentile([], 0.5) is None
    assert _percentile([3.0], 0.9) == 3.0
    assert _percentile([1.0, 2.0], 0.5) == 1.5
    assert _percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.9) == 4.6
