"""Phone numbers are stored in E.164; anything that is not a valid number is refused."""

from __future__ import annotations

import pytest

from app.crm import InvalidInput
from app.crm.phones import mask_phone, normalise_phone


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("0501234567", "+966501234567"),
        ("050 123 4567", "+966501234567"),
        ("(050) 123-4567", "+966501234567"),
        ("0112345678", "+966112345678"),
        ("+966 50 123 4567", "+966501234567"),
        ("+966501234567", "+966501234567"),
        ("00966501234567", "+966501234567"),
        ("  0501234567  ", "+966501234567"),
        ("+1 212 555 0123", "+12125550123"),
        ("001 212 555 0123", "+12125550123"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+971 50 123 4567", "+971501234567"),
        ("+20 100 123 4567", "+201001234567"),
        ("٠٥٠١٢٣٤٥٦٧", "+966501234567"),
        ("+٩٦٦ ٥٠ ١٢٣ ٤٥٦٧", "+966501234567"),
        ("٠٠٩٦٦٥٠١٢٣٤٥٦٧", "+966501234567"),
        ("۰۵۰۱۲۳۴۵۶۷", "+966501234567"),
        ("05٠١٢٣4567", "+966501234567"),
        ("\u200f+966 50 123 4567\u200f", "+966501234567"),
        ("\u202a+966 50 123 4567\u202c", "+966501234567"),
        ("+966\u200e50\u200e123\u200e4567", "+966501234567"),
    ],
)
def test_normalises_to_e164(raw: str, expected: str):
    assert normalise_phone(raw) == expected


def test_the_default_region_applies_to_local_numbers():
    assert normalise_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalise_phone("+966501234567", "GB") == "+966501234567"


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "123",
        "+1 555",
        "9" * 40,
        "+" + "9" * 39,
        "",
        "   ",
        "+",
        "+966",
        "05012345678901",
        "0501234567; DROP TABLE customers",
        "1-800-FLOWERS",
        "٠",
    ],
)
def test_refuses_garbage(raw: str):
    with pytest.raises(InvalidInput, match="phone"):
        normalise_phone(raw)


@pytest.mark.parametrize("raw", [None, 501234567, b"0501234567", ["0501234567"]])
def test_refuses_non_text(raw: object):
    with pytest.raises(InvalidInput):
        normalise_phone(raw)  # type: ignore[arg-type]


def test_mask_keeps_country_code_and_last_two_digits():
    assert mask_phone("+966501234567") == "+966*******67"
    assert mask_phone(None) == "-"
    assert "501234" not in mask_phone("+966501234567")
