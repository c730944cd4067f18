"""Per-persona analytics and the CSV exports, on a fresh server with one known call."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest

from app.crm import calls, tickets
from tests.api.conftest import RunningApi, assert_error, running_api

FORMULA_NAME = '=HYPERLINK("http://x")'


@pytest.fixture(scope="module")
def scenario() -> Iterator[tuple[RunningApi, dict]]:
    """One call: Ahmed (reception) transfers to Sarah (sales), who opens a ticket; it ends."""
    with running_api() as api:
        anon = api.client(key=None)
        started = anon.post(
            "/api/calls", json={"name": "سارة العلي", "phone": "0501234567", "language": "ar"}
        ).json()
        anon.post("/api/calls", json={"name": FORMULA_NAME, "language": "en"})
        db = api.db()
        try:
            call_id = started["call_id"]
            calls.mark_agent_joined(db, call_id=call_id)
            calls.add_event(db, call_id=call_id, kind="persona_entered", persona="reception")
            calls.add_turn(
                db, call_id=call_id, role="agent", text="أهلاً", persona="reception", e2e_latency=1.0
            )
            calls.add_event(
                db,
                call_id=call_id,
                kind="transfer",
                persona="reception",
                **{"from": "reception", "to": "sales", "reason": "quote"},
            )
            calls.add_event(db, call_id=call_id, kind="persona_entered", persona="sales")
            for latency in (0.5, 1.5):
                calls.add_turn(
                    db,
                    call_id=call_id,
                    role="agent",
                    text="…",
                    persona="sales",
                    e2e_latency=latency,
                )
            # the caller typed a number (a claim): the ticket waits on the call for a link
            tickets.open_ticket(db, customer_id=None, subject="x", call_id=call_id)
            calls.add_event(db, call_id=call_id, kind="ended", persona="sales")
            calls.end_call(db, call_id=call_id, outcome="transferred")
        finally:
            db.close()
        yield api, started


def test_persona_figures(scenario: tuple[RunningApi, dict]):
    api, _ = scenario
    response = api.client().get("/api/analytics/personas")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["calls"] == 2
    figures = {row["persona"]: row for row in body["personas"]}
    assert set(figures) == {"reception", "sales", "complaints"}
    assert figures["reception"]["calls_handled"] == 1
    assert figures["reception"]["transfers_out"] == 1 and figures["sales"]["transfers_in"] == 1
    assert figures["sales"]["tickets_created"] == 1
    assert figures["sales"]["latency_turns"] == 2
    assert figures["sales"]["turn_latency_p50"] == 1.0
    assert figures["reception"]["turn_latency_p50"] == 1.0
    assert figures["complaints"]["calls_handled"] == 0
    assert figures["complaints"]["turn_latency_p50"] is None


def test_date_range(scenario: tuple[RunningApi, dict]):
    api, _ = scenario
    client = api.client()
    empty = client.get("/api/analytics/personas", params={"since": "2999-01-01"}).json()
    assert empty["calls"] == 0
    past = client.get("/api/analytics/personas", params={"until": "2000-01-01"}).json()
    assert past["calls"] == 0
    for params in (
        {"since": "yesterday"},
        {"until": "2024-13-45"},
        {"since": "2024-05-02", "until": "2024-05-01"},
        {"since": "'; DROP TABLE calls;--"},
        {"since": "x" * 41},
    ):
        assert_error(client.get("/api/analytics/personas", params=params), 422)
        assert_error(client.get("/api/analytics/calls.csv", params=params), 422)


def read_csv(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_calls_csv(scenario: tuple[RunningApi, dict]):
    api, started = scenario
    rows = read_csv(api.client().get("/api/analytics/calls.csv"))
    assert [int(r["id"]) for r in rows] == [started["call_id"], started["call_id"] + 1]
    first, second = rows
    assert first["caller_name"] == "سارة العلي"
    # Like any cell starting with + = - @, the E.164 phone is quoted against formula injection.
    assert first["caller_phone"] == "'+966501234567"
    assert first["personas_visited"] == "reception > sales" and first["transfers"] == "1"
    assert first["status"] == "ended" and first["outcome"] == "transferred"
    # A name a spreadsheet would run as a formula is quoted.
    assert second["caller_name"] == "'" + FORMULA_NAME


def test_personas_csv(scenario: tuple[RunningApi, dict]):
    api, _ = scenario
    rows = read_csv(api.client().get("/api/analytics/personas.csv"))
    assert [r["persona"] for r in rows] == ["reception", "sales", "complaints"]
    assert [r["name"] for r in rows] == ["Ahmed", "Sarah", "Mohammed"]
    assert rows[1]["tickets_created"] == "1"


def test_a_date_until_includes_that_whole_day(scenario: tuple[RunningApi, dict]):
    api, started = scenario
    client = api.client()
    day = client.get(f"/api/calls/{started['call_id']}").json()["created_at"][:10]
    body = client.get("/api/analytics/personas", params={"since": day, "until": day}).json()
    assert body["calls"] == 2
    assert body["since"] == f"{day}T00:00:00.000Z" and body["until"] > body["since"]
    rows = read_csv(client.get("/api/analytics/calls.csv", params={"since": day, "until": day}))
    assert len(rows) == 2
    moment = client.get(f"/api/calls/{started['call_id']}").json()["created_at"]
    assert_error(
        client.get("/api/analytics/personas", params={"since": moment, "until": moment}), 422
    )


def test_the_csv_follows_the_range(scenario: tuple[RunningApi, dict]):
    api, _ = scenario
    rows = read_csv(api.client().get("/api/analytics/personas.csv", params={"until": "2000-01-01"}))
    assert [r["calls_handled"] for r in rows] == ["0", "0", "0"]
    assert (
        read_csv(api.client().get("/api/analytics/calls.csv", params={"until": "2000-01-01"})) == []
    )


def test_phone_calls_show_their_channel_in_the_figures_the_csv_and_the_list():
    with running_api() as api:
        db = api.db()
        try:
            phone = calls.create_call(
                db,
                room="phone_+966501230000_x",
                language="ar",
                department="reception",
                caller_phone="+966501230000",
                channel="phone",
                dialled_number="+15550100",
            )
            calls.create_call(db, room="call-web", language="en", department="sales")
            calls.add_event(db, call_id=phone["id"], kind="human_transfer", reason="a person")
            calls.add_event(db, call_id=phone["id"], kind="takeover", operator="amal")
        finally:
            db.close()
        client = api.client()
        body = client.get("/api/analytics/personas").json()
        assert body["channels"] == {"web": 1, "phone": 1}
        assert body["transferred_to_human"] == 1 and body["taken_over"] == 1
        rows = read_csv(client.get("/api/analytics/calls.csv"))
        assert [(r["channel"], r["direction"], r["dialled_number"]) for r in rows] == [
            ("phone", "inbound", "'+15550100"),
            ("web", "inbound", ""),
        ]
        listed = client.get("/api/calls", params={"channel": "phone"}).json()
        assert [c["id"] for c in listed] == [phone["id"]]
        assert_error(client.get("/api/calls", params={"channel": "fax"}), 422)
