"""Validation of the values every writer (API, agent tools) hands to the store."""

from __future__ import annotations

import re

from app.crm.errors import InvalidInput

NAME_MAX = 120
TEXT_MAX = 2000
EMAIL_MAX = 254
LANGUAGES = ("ar", "en")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def clean_text(
    value: object, field: str, *, max_length: int = TEXT_MAX, required: bool = True
) -> str | None:
    if value is None:
        if required:
            raise InvalidInput(f"{field} is required")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text")
    text = value.strip()
    if not text:
        if required:
            raise InvalidInput(f"{field} is empty")
        return None
    if len(text) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters")
    if "\x00" in text:
        raise InvalidInput(f"{field} contains a NUL character")
    return text


def clean_email(value: object) -> str | None:
    email = clean_text(value, "email", max_length=EMAIL_MAX, required=False)
    if email is not None and not _EMAIL.match(email):
        raise InvalidInput("email is not a valid address")
    return email


def clean_language(value: object) -> str:
    if value not in LANGUAGES:
        raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}")
    return value  # type: ignore[return-value]


def clean_choice(value: object, field: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.strip().lower() not in choices:
        raise InvalidInput(f"{field} must be one of {', '.join(choices)}")
    return value.strip().lower()
