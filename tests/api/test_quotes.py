"""Quotes are written by the agent (through the CRM store) and read by the operator."""

from __future__ import annotations

import httpx

from app.crm import quotes
from tests.api.conftest import RunningApi, assert_error, new_customer


def make_quote(api: RunningApi, client: httpx.Client, customer_id: int) -> dict:
    """As Sarah's create_quote tool does: a second connection to the API's CRM file."""
    code = f"quote-svc-{customer_id}"
    response = client.post(
        "/api/services",
        json={"code": code, "name_en": "Logo", "name_ar": "شعار", "price": 149.5},
    )
    assert response.status_code == 201, response.text
    db = api.db()
    try:
        return quotes.create_quote(
            db, customer_id=customer_id, items=[{"service_code": code, "quantity": 3}]
        )
    finally:
        db.close()


def test_quotes_are_listed_and_readable(api: RunningApi, client: httpx.Client):
    customer = new_customer(client, name="نور")
    quote = make_quote(api, client, customer["id"])

    fetched = client.get(f"/api/quotes/{quote['id']}")
    assert fetched.status_code == 200
    body = fetched.json()
    assert body["number"] == f"QT-{quote['id']:06d}"
    assert body["total"] == 448.5 and body["currency"] == "USD"
    assert body["items"][0]["name_ar"] == "شعار" and body["items"][0]["quantity"] == 3

    mine = client.get("/api/quotes", params={"customer_id": customer["id"]}).json()
    assert [q["id"] for q in mine] == [quote["id"]]
    assert quote["id"] in [q["id"] for q in client.get("/api/quotes").json()]
    assert client.get("/api/quotes", params={"limit": 1}).json()[0]["id"] >= quote["id"]
    detail = client.get(f"/api/customers/{customer['id']}").json()
    assert [q["number"] for q in detail["quotes"]] == [body["number"]]


def test_quote_errors(client: httpx.Client):
    assert_error(client.get("/api/quotes/987654321"), 404, "not_found")
    assert_error(client.get("/api/quotes/abc"), 422)
    assert_error(client.get("/api/quotes", params={"customer_id": 0}), 422)
    assert_error(client.get("/api/quotes", params={"limit": 0}), 422)
