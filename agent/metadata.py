"""The job metadata the API puts on each dispatch, read defensively.

`{"call_id": int, "department": "reception"|"sales"|"complaints", "language": "ar"|"en"|null,
"name": str|null, "phone": "+E164"|null}` from the API, or `{"channel": "phone"}` from the
phone line's dispatch rule (the worker opens that call's row from the SIP participant).
Anything missing or malformed falls back to a safe value (Reception, the default language, no
caller details) and is reported as a problem, so a bad dispatch still gets answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from app.crm import InvalidInput
from app.crm.phones import normalise_phone
from personas import LANGUAGES, PersonaType

MAX_METADATA_CHARS = 4096
MAX_NAME_CHARS = 120


@dataclass(frozen=True)
class CallMetadata:
    call_id: int | None = None
    department: PersonaType = PersonaType.RECEPTION
    language: str | None = None
    """None when the call did not ask for a language."""
    name: str | None = None
    phone: str | None = None
    """E.164."""
    problems: tuple[str, ...] = field(default=())
    """What was wrong with the metadata, without its values (they may be personal)."""


def parse_metadata(raw: str | None, *, region: str = "SA") -> CallMetadata:
    problems: list[str] = []
    data = _load(raw, problems)

    call_id = data.get("call_id")
    if isinstance(call_id, bool) or not isinstance(call_id, int) or call_id <= 0:
        if "call_id" in data:
            problems.append("call_id is not a positive integer")
        elif data and data.get("channel") != "phone":
            problems.append("call_id is missing")
        call_id = None

    department = PersonaType.RECEPTION
    if "department" in data and data["department"] is not None:
        try:
            department = PersonaType(data["department"])
        except (ValueError, TypeError):
            problems.append("department is not one of reception, sales, complaints")

    language = data.get("language")
    if language is not None and language not in LANGUAGES:
        problems.append("language is not one of ar, en")
        language = None

    name = data.get("name")
    if name is not None:
        if not isinstance(name, str):
            problems.append("name is not text")
            name = None
        else:
            name = " ".join(name.split())[:MAX_NAME_CHARS] or None

    phone = data.get("phone")
    if phone is not None:
        try:
            phone = normalise_phone(phone, region)
        except InvalidInput:
            problems.append("phone is not a valid phone number")
            phone = None

    return CallMetadata(
        call_id=call_id,
        department=department,
        language=language,
        name=name,
        phone=phone,
        problems=tuple(problems),
    )


def _load(raw: str | None, problems: list[str]) -> dict:
    if raw is None or not raw.strip():
        problems.append("metadata is empty")
        return {}
    if len(raw) > MAX_METADATA_CHARS:
        problems.append("metadata is too long")
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        problems.append("metadata is not JSON")
        return {}
    if not isinstance(data, dict):
        problems.append("metadata is not a JSON object")
        return {}
    return data
