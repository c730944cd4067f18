"""Nothing personal in the worker's logs: phone numbers and email addresses are masked, and the
fields LiveKit marks as personal (`lk.pii.*`: transcripts, tool arguments) are dropped."""

from __future__ import annotations

import logging
import re

from app.crm.phones import mask_phone

_PHONE = re.compile(r"(?<![\w+])\+?\d[\d\s\-()]{6,}\d(?!\w)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}")


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return "-"
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MIN_PHONE_DIGITS = 8


def _mask_number(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"[^\d+]", "", text)
    if _DATE.match(text) or len(digits.lstrip("+")) < MIN_PHONE_DIGITS:
        return text
    return mask_phone(digits)


def scrub(text: str) -> str:
    """Mask anything that looks like an email address or a phone number."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@***", text)
    return _PHONE.sub(_mask_number, text)


def _is_personal(key: str) -> bool:
    return "pii" in key.split(".")


class PrivacyFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key in [key for key in vars(record) if _is_personal(key)]:
            delattr(record, key)
        if isinstance(record.msg, str):
            record.msg = scrub(record.getMessage())
            record.args = None
        if record.exc_info:
            # formatted here so the traceback's messages are scrubbed too
            record.exc_text = _FORMATTER.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        for key, value in list(vars(record).items()):
            if key in _STANDARD or key.startswith("_"):
                continue
            if isinstance(value, str):
                setattr(record, key, scrub(value))
        return True


_FORMATTER = logging.Formatter()
_STANDARD = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message"}


def install(logger: logging.Logger | None = None) -> None:
    """Filter every handler of the root logger (job processes log through it too)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, PrivacyFilter) for f in handler.filters):
            handler.addFilter(PrivacyFilter())
