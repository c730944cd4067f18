"""The service catalog: create, update, delete, replace."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from app.crm import InvalidInput, NotFound
from app.crm.sample_catalog import SAMPLE_SERVICES
from app.crm.services import (
    create_service,
    delete_service,
    get_service,
    get_service_by_code,
    list_services,
    replace_catalog,
    update_service,
)


def entry(**fields: object) -> dict:
    return {
        "code": "seo",
        "name_en": "SEO",
        "name_ar": "تحسين محركات البحث",
        "price": 300,
        "currency": "SAR",
        "unit": "month",
        **fields,
    }


def test_replace_catalog_swaps_everything(db: Database):
    replaced = replace_catalog(
        db, services=[entry(), entry(code="ads", name_en="Ads", price=99.999, active=False)]
    )
    assert [s["code"] for s in replaced] == ["seo", "ads"]
    assert [s["price"] for s in replaced] == [300.0, 100.0]
    assert [s["active"] for s in replaced] == [True, False]
    assert not any(s["is_sample"] for s in replaced)
    assert list_services(db) == replaced
    assert [s["code"] for s in list_services(db, active_only=True)] == ["seo"]


@pytest.mark.parametrize(
    "services",
    [
        [entry(), entry()],
        [entry(), entry(code="Bad Code")],
        [entry(price=-1)],
        [entry(price=True)],
        [entry(currency="riyal")],
        [entry(unit="week")],
        [{k: v for k, v in entry().items() if k != "name_ar"}],
        [entry(colour="blue")],
    ],
)
def test_a_bad_replacement_changes_nothing(db: Database, services: list[dict]):
    before = list_services(db)
    with pytest.raises(InvalidInput):
        replace_catalog(db, services=services)
    assert list_services(db) == before
    assert len(before) == len(SAMPLE_SERVICES)


def test_create_update_delete(db: Database):
    created = create_service(db, **entry(description_ar="وصف"))
    assert created["is_sample"] is False and created["active"] is True
    with pytest.raises(InvalidInput, match="already exists"):
        create_service(db, **entry())
    updated = update_service(db, service_id=created["id"], price=350, name_ar="تحسين")
    assert (updated["price"], updated["name_ar"], updated["code"]) == (350.0, "تحسين", "seo")
    with pytest.raises(InvalidInput, match="already exists"):
        update_service(db, service_id=created["id"], code="website")
    delete_service(db, service_id=created["id"])
    with pytest.raises(NotFound):
        get_service(db, service_id=created["id"])
    with pytest.raises(NotFound):
        delete_service(db, service_id=created["id"])
    with pytest.raises(NotFound):
        update_service(db, service_id=created["id"], price=1)


def test_editing_a_sample_entry_unmarks_it(db: Database):
    sample = get_service_by_code(db, code="website")
    assert sample["is_sample"] is True
    assert update_service(db, service_id=sample["id"], price=1)["is_sample"] is False
    untouched = get_service_by_code(db, code="hosting")
    assert untouched["is_sample"] is True


@pytest.mark.parametrize(
    "fields",
    [
        {"price": 10_000_001},
        {"price": "10"},
        {"price": float("nan")},
        {"name_en": ""},
        {"name_en": "n" * 121},
        {"description_en": "d" * 2001},
        {"code": "UPPER"},
        {"is_sample": True},
    ],
)
def test_bad_fields_are_refused(db: Database, fields: dict):
    with pytest.raises(InvalidInput):
        create_service(db, **entry(**fields))
