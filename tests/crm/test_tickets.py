"""Tickets: readable numbers, SLA by priority, status history, scoping by customer."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from app.crm import InvalidInput, NotFound
from app.crm.calls import create_call
from app.crm.clock import parse
from app.crm.customers import create_customer
from app.crm.tickets import (
    SLA,
    change_status,
    get_ticket,
    get_ticket_by_number,
    list_tickets,
    open_ticket,
    ticket_number,
)


@pytest.fixture
def customer(db: Database) -> dict:
    return create_customer(db, name="Salem", phone="0501112233")


def test_numbers_are_readable_and_sequential(db: Database, customer: dict):
    tickets = [open_ticket(db, customer_id=customer["id"], subject=f"s{i}") for i in range(3)]
    assert [t["number"] for t in tickets] == ["TKT-000001", "TKT-000002", "TKT-000003"]
    assert ticket_number(1234567) == "TKT-1234567"


@pytest.mark.parametrize("priority", ["low", "normal", "high", "urgent"])
def test_sla_follows_the_priority(db: Database, customer: dict, priority: str):
    ticket = open_ticket(db, customer_id=customer["id"], subject="x", priority=priority)
    assert parse(ticket["sla_due_at"]) - parse(ticket["created_at"]) == SLA[priority]


def test_sla_is_shorter_for_higher_priorities():
    order = ["urgent", "high", "normal", "low"]
    assert [SLA[p] for p in order] == sorted(SLA.values())


def test_choices_are_case_insensitive_and_checked(db: Database, customer: dict):
    ticket = open_ticket(
        db, customer_id=customer["id"], subject="x", category=" Billing ", priority="HIGH"
    )
    assert (ticket["category"], ticket["priority"]) == ("billing", "high")
    with pytest.raises(InvalidInput, match="category"):
        open_ticket(db, customer_id=customer["id"], subject="x", category="weather")
    with pytest.raises(InvalidInput, match="priority"):
        open_ticket(db, customer_id=customer["id"], subject="x", priority="asap")
    with pytest.raises(InvalidInput, match="subject"):
        open_ticket(db, customer_id=customer["id"], subject="   ")
    with pytest.raises(InvalidInput, match="subject"):
        open_ticket(db, customer_id=customer["id"], subject="s" * 201)


def test_unknown_customer_or_call_is_not_found(db: Database, customer: dict):
    with pytest.raises(NotFound, match="customer"):
        open_ticket(db, customer_id=999, subject="x")
    with pytest.raises(NotFound, match="call"):
        open_ticket(db, customer_id=customer["id"], subject="x", call_id=999)
    assert db["tickets"].count == 0


def test_linked_to_a_call(db: Database, customer: dict):
    call = create_call(db, room="call-1", language="ar", department="complaints")
    ticket = open_ticket(db, customer_id=customer["id"], subject="x", call_id=call["id"])
    assert ticket["call_id"] == call["id"]


def test_status_history(db: Database, customer: dict):
    ticket = open_ticket(db, customer_id=customer["id"], subject="x")
    change_status(db, ticket_id=ticket["id"], status="in_progress", note="checking")
    change_status(db, ticket_id=ticket["id"], status="in_progress", note="ignored: no change")
    change_status(db, ticket_id=ticket["id"], status="Resolved", note="fixed")
    final = change_status(db, ticket_id=ticket["id"], status="closed")
    assert final["status"] == "closed"
    assert [(h["from_status"], h["to_status"], h["note"]) for h in final["history"]] == [
        (None, "open", ""),
        ("open", "in_progress", "checking"),
        ("in_progress", "resolved", "fixed"),
        ("resolved", "closed", ""),
    ]
    with pytest.raises(InvalidInput):
        change_status(db, ticket_id=ticket["id"], status="reopened")
    with pytest.raises(NotFound):
        change_status(db, ticket_id=999, status="closed")
    assert get_ticket(db, ticket_id=ticket["id"])["status"] == "closed"


def test_by_number_is_scoped_to_the_customer(db: Database, customer: dict):
    other = create_customer(db, name="Other", phone="0502223344")
    ticket = open_ticket(db, customer_id=customer["id"], subject="x")
    assert get_ticket_by_number(db, number="tkt-000001")["id"] == ticket["id"]
    assert get_ticket_by_number(db, number=" TKT-000001 ", customer_id=customer["id"])
    with pytest.raises(NotFound):
        get_ticket_by_number(db, number="TKT-000001", customer_id=other["id"])
    with pytest.raises(NotFound):
        get_ticket_by_number(db, number="TKT-999999")


def test_list_filters(db: Database, customer: dict):
    other = create_customer(db, name="Other", phone="0502223344")
    a = open_ticket(db, customer_id=customer["id"], subject="a", priority="urgent")
    b = open_ticket(db, customer_id=other["id"], subject="b", category="billing")
    assert [t["id"] for t in list_tickets(db)] == [b["id"], a["id"]]
    assert [t["id"] for t in list_tickets(db, customer_id=customer["id"])] == [a["id"]]
    assert [t["id"] for t in list_tickets(db, priority="urgent")] == [a["id"]]
    assert [t["id"] for t in list_tickets(db, category="billing")] == [b["id"]]
    assert [t["id"] for t in list_tickets(db, limit=1, offset=1)] == [a["id"]]
