"""Quotes: priced from the catalog, readable numbers, validity, scoping by customer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlite_utils import Database

from app.crm import InvalidInput, NotFound
from app.crm.clock import parse
from app.crm.customers import create_customer
from app.crm.quotes import create_quote, get_quote, get_quote_by_number, list_quotes
from app.crm.services import create_service, get_service_by_code, update_service


@pytest.fixture
def customer(db: Database) -> dict:
    return create_customer(db, name="Reem", phone="0503334455")


def test_total_comes_from_the_catalog(db: Database, customer: dict):
    website = get_service_by_code(db, code="website")
    hosting = get_service_by_code(db, code="hosting")
    quote = create_quote(
        db,
        customer_id=customer["id"],
        items=[{"service_code": "website"}, {"service_code": "hosting", "quantity": 12}],
    )
    assert quote["number"] == "QT-000001"
    assert quote["total"] == website["price"] + 12 * hosting["price"]
    assert quote["currency"] == "USD"
    assert [i["amount"] for i in quote["items"]] == [website["price"], 12 * hosting["price"]]
    assert quote["items"][0]["name_ar"] == website["name_ar"]
    assert parse(quote["valid_until"]) - parse(quote["created_at"]) == timedelta(days=30)
    assert get_quote(db, quote_id=quote["id"]) == quote


def test_prices_are_rounded_to_cents(db: Database, customer: dict):
    create_service(
        db, code="odd", name_en="Odd", name_ar="غريب", price=0.1, currency="USD", unit="hour"
    )
    quote = create_quote(
        db, customer_id=customer["id"], items=[{"service_code": "odd", "quantity": 3}]
    )
    assert quote["total"] == 0.3


def test_a_quote_keeps_its_prices_when_the_catalog_changes(db: Database, customer: dict):
    quote = create_quote(db, customer_id=customer["id"], items=[{"service_code": "website"}])
    service = get_service_by_code(db, code="website")
    update_service(db, service_id=service["id"], price=99999)
    assert get_quote(db, quote_id=quote["id"])["total"] == quote["total"]


@pytest.mark.parametrize(
    "items, error",
    [
        ([], InvalidInput),
        ("website", InvalidInput),
        ([{"service_code": "website"}] * 21, InvalidInput),
        (["website"], InvalidInput),
        ([{"quantity": 1}], InvalidInput),
        ([{"service_code": "website", "quantity": 0}], InvalidInput),
        ([{"service_code": "website", "quantity": 1001}], InvalidInput),
        ([{"service_code": "website", "quantity": 1.5}], InvalidInput),
        ([{"service_code": "website", "quantity": True}], InvalidInput),
        ([{"service_code": "website", "quantity": "2"}], InvalidInput),
        ([{"service_code": "no-such-service"}], NotFound),
    ],
)
def test_bad_items_are_refused(db: Database, customer: dict, items: object, error: type):
    with pytest.raises(error):
        create_quote(db, customer_id=customer["id"], items=items)  # type: ignore[arg-type]
    assert db["quotes"].count == 0


def test_inactive_services_cannot_be_quoted(db: Database, customer: dict):
    service = get_service_by_code(db, code="website")
    update_service(db, service_id=service["id"], active=False)
    with pytest.raises(NotFound):
        create_quote(db, customer_id=customer["id"], items=[{"service_code": "website"}])


def test_mixed_currencies_are_refused(db: Database, customer: dict):
    create_service(
        db, code="riyal", name_en="R", name_ar="ر", price=5, currency="SAR", unit="one-off"
    )
    with pytest.raises(InvalidInput, match="currency"):
        create_quote(
            db,
            customer_id=customer["id"],
            items=[{"service_code": "website"}, {"service_code": "riyal"}],
        )


def test_unknown_customer(db: Database):
    with pytest.raises(NotFound):
        create_quote(db, customer_id=999, items=[{"service_code": "website"}])


def test_scoping_and_listing(db: Database, customer: dict):
    other = create_customer(db, name="Other", phone="0504445566")
    mine = create_quote(db, customer_id=customer["id"], items=[{"service_code": "website"}])
    theirs = create_quote(db, customer_id=other["id"], items=[{"service_code": "hosting"}])
    assert theirs["number"] == "QT-000002"
    assert get_quote_by_number(db, number="qt-000001", customer_id=customer["id"]) == mine
    with pytest.raises(NotFound):
        get_quote_by_number(db, number="QT-000002", customer_id=customer["id"])
    assert [q["id"] for q in list_quotes(db)] == [theirs["id"], mine["id"]]
    assert [q["id"] for q in list_quotes(db, customer_id=customer["id"])] == [mine["id"]]
    with pytest.raises(NotFound):
        get_quote(db, quote_id=999)
