"""Customers: unique E.164 phone, validation, search, find-or-create."""

from __future__ import annotations

import sqlite3

import pytest
from sqlite_utils import Database

from app.crm import InvalidInput, NotFound
from app.crm.customers import (
    create_customer,
    find_by_phone,
    find_or_create_by_phone,
    get_customer,
    list_customers,
    update_customer,
)


def test_phone_is_stored_in_e164_and_unique(db: Database):
    first = create_customer(db, name="Ali", phone="٠٥٠١٢٣٤٥٦٧")
    assert first["phone"] == "+966501234567"
    for same in ("+966501234567", "00966501234567", "050 123 4567"):
        with pytest.raises(InvalidInput, match="phone"):
            create_customer(db, name="Copy", phone=same)
    second = create_customer(db, name="Badr", phone="0509999999")
    with pytest.raises(InvalidInput, match="phone"):
        update_customer(db, customer_id=second["id"], phone="0501234567")
    assert db["customers"].count == 2


def test_the_schema_enforces_uniqueness_too(db: Database):
    create_customer(db, name="Ali", phone="0501234567")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO customers (phone, created_at, updated_at) VALUES (?, 'x', 'x')",
            ["+966501234567"],
        )


def test_several_customers_may_have_no_phone(db: Database):
    create_customer(db, name="A")
    create_customer(db, name="B")
    assert db["customers"].count == 2


@pytest.mark.parametrize(
    "fields, match",
    [
        ({}, "name or a phone"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 121}, "name"),
        ({"name": "a\x00b"}, "NUL"),
        ({"name": 5}, "name"),
        ({"name": "a", "email": "nope"}, "email"),
        ({"name": "a", "language": "fr"}, "language"),
        ({"name": "a", "phone": "abc"}, "phone"),
        ({"name": "a", "notes": "n" * 2001}, "notes"),
        ({"name": "a", "id": 7}, "id"),
    ],
)
def test_bad_fields_are_refused(db: Database, fields: dict, match: str):
    with pytest.raises(InvalidInput, match=match):
        create_customer(db, **fields)
    assert db["customers"].count == 0


def test_text_is_kept_verbatim(db: Database):
    name = "\u200fمحمد\u200f O'Neil; DROP TABLE customers;--"
    customer = create_customer(db, name=name, notes='"quoted" \\ text')
    assert get_customer(db, customer_id=customer["id"])["name"] == name
    assert [c["id"] for c in list_customers(db, search="O'Neil; DROP")] == [customer["id"]]
    assert "customers" in db.table_names()


def test_search_escapes_like_wildcards(db: Database):
    create_customer(db, name="100% sure")
    create_customer(db, name="1000 sure")
    assert [c["name"] for c in list_customers(db, search="100%")] == ["100% sure"]
    assert list_customers(db, search="10_") == []


def test_find_or_create_by_phone(db: Database):
    created = find_or_create_by_phone(db, phone="0507778899")
    assert created["name"] is None and created["phone"] == "+966507778899"
    named = find_or_create_by_phone(db, phone="+966 50 777 8899", name="Faisal")
    assert named["id"] == created["id"] and named["name"] == "Faisal"
    kept = find_or_create_by_phone(db, phone="00966507778899", name="Someone Else")
    assert kept["name"] == "Faisal"
    assert db["customers"].count == 1
    assert find_by_phone(db, phone="٠٥٠٧٧٧٨٨٩٩")["id"] == created["id"]
    assert find_by_phone(db, phone="0500000001") is None


def test_update_and_not_found(db: Database):
    customer = create_customer(db, name="Ali")
    updated = update_customer(db, customer_id=customer["id"], email="ali@example.com")
    assert updated["email"] == "ali@example.com" and updated["name"] == "Ali"
    with pytest.raises(NotFound):
        update_customer(db, customer_id=999, name="x")
    with pytest.raises(NotFound):
        get_customer(db, customer_id=999)
