"""Nothing personal in the worker's logs."""

from __future__ import annotations

import logging
import sys

from agent.log_privacy import PrivacyFilter, mask_email, scrub


def test_scrub_masks_phones_and_emails_but_not_dates_or_ids() -> None:
    text = scrub(
        "caller +966501234567 / 0501234567 / 00966 50 123 4567 wrote to ali.k@example.com "
        "at 2025-06-01 10:00:00 about TKT-000012, call 1234567"
    )
    for secret in ("501234567", "50 123 4567", "ali.k@", "example.com"):
        assert secret not in text
    assert "+966*******67" in text
    assert "2025-06-01 10:00:00" in text and "TKT-000012" in text and "call 1234567" in text


def test_mask_email() -> None:
    assert mask_email("ali@example.com") == "a***@example.com"
    assert mask_email(None) == "-"


def test_filter_drops_personal_fields_and_masks_the_rest() -> None:
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "from %s", ("+966501234567",), None
    )
    record.__dict__["lk.pii.arguments"] = '{"phone": "+966501234567"}'
    record.__dict__["caller"] = "mail me at someone@example.org"
    assert PrivacyFilter().filter(record)
    assert "lk.pii.arguments" not in record.__dict__
    assert record.getMessage() == "from +966*******67"
    assert "someone@" not in record.__dict__["caller"]


def test_tracebacks_are_scrubbed() -> None:
    try:
        raise ValueError("no customer with phone +966501234567")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    assert PrivacyFilter().filter(record)
    assert record.exc_info is None
    assert "ValueError: no customer with phone +966*******67" in record.exc_text
