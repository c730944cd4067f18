"""The callback routes' refusals: what an operator is told when a callback cannot be placed
(tests/phone places real ones through the SIP service)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.crm import calls as crm_calls
from app.crm import tickets as crm_tickets
from tests.api.conftest import RunningApi, assert_error, new_customer, running_api


@pytest.fixture(scope="module")
def outbound_api() -> Iterator[RunningApi]:
    """An API with an outbound trunk configured but no LiveKit server listening."""
    with running_api(
        {"SIP_OUTBOUND_ADDRESS": "127.0.0.1:5999", "SIP_OUTBOUND_NUMBER": "+15550100"}
    ) as running:
        yield running


def test_without_an_outbound_trunk_a_callback_is_refused_with_409(
    client: httpx.Client, api: RunningApi
):
    customer = new_customer(client)
    ticket = client.post("/api/tickets", json={"customer_id": customer["id"], "subject": "x"})
    error = assert_error(client.post(f"/api/tickets/{ticket.json()['id']}/callback"), 409)
    assert "SIP_OUTBOUND_ADDRESS" in error["message"]
    assert_error(client.post("/api/tickets/987654/callback"), 404, "not_found")
    assert_error(client.post("/api/follow-ups/987654/callback"), 404, "not_found")


def test_a_ticket_without_a_customer_or_a_number_cannot_be_called_back(
    outbound_api: RunningApi,
):
    client = outbound_api.client()
    db = outbound_api.db()
    try:
        call = crm_calls.create_call(db, room="r-unlinked", language="en", department="sales")
        on_call = crm_tickets.open_ticket(db, customer_id=None, call_id=call["id"], subject="x")
    finally:
        db.close()
    error = assert_error(client.post(f"/api/tickets/{on_call['id']}/callback"), 409, "conflict")
    assert "link its call" in error["message"]
    no_phone = client.post("/api/customers", json={"name": "No Phone", "email": "np@example.com"})
    assert no_phone.status_code == 201, no_phone.text
    body = {"customer_id": no_phone.json()["id"], "subject": "y"}
    ticket = client.post("/api/tickets", json=body)
    error = assert_error(client.post(f"/api/tickets/{ticket.json()['id']}/callback"), 409)
    assert "no phone number" in error["message"]


def test_livekit_not_answering_is_502_and_the_call_is_closed(outbound_api: RunningApi):
    client = outbound_api.client()
    customer = new_customer(client)
    ticket = client.post("/api/tickets", json={"customer_id": customer["id"], "subject": "z"})
    error = assert_error(client.post(f"/api/tickets/{ticket.json()['id']}/callback"), 502)
    assert "SIP service" in error["message"]
    placed = client.get("/api/calls", params={"customer_id": customer["id"]}).json()
    assert [(c["direction"], c["status"], c["outcome"]) for c in placed] == [
        ("outbound", "ended", "dial_failed")
    ]
    audit = client.get("/api/audit", params={"action": "call.callback"}).json()
    assert audit and audit[0]["details"]["call_id"] == placed[0]["id"]
