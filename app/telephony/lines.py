"""The numbers callers dial (SIP_LINES) and what each one answers with: a department and, when
the line is for one, a language."""

from __future__ import annotations

import re
from dataclasses import dataclass

from personas import LANGUAGES, PersonaType

NUMBER = re.compile(r"^\+?[0-9]{3,15}$")


@dataclass(frozen=True)
class PhoneLine:
    number: str
    department: PersonaType = PersonaType.RECEPTION
    language: str | None = None
    """None: the call starts in the default language."""


def parse_lines(value: str) -> tuple[PhoneLine, ...]:
    """`+15550100=reception:ar,+15550101=sales` → lines; raises ValueError naming the bad
    item's position (never its text)."""
    lines: list[PhoneLine] = []
    items = [part.strip() for part in value.split(",") if part.strip()]
    for position, item in enumerate(items, start=1):
        number, _, route = item.partition("=")
        number = number.strip()
        if not NUMBER.fullmatch(number):
            raise ValueError(f"line {position}: not a phone number like +15550100")
        department, _, language = route.strip().partition(":")
        try:
            persona = PersonaType(department.strip() or PersonaType.RECEPTION.value)
        except ValueError:
            raise ValueError(
                f"line {position}: the department must be one of "
                + ", ".join(p.value for p in PersonaType)
            ) from None
        language = language.strip() or None
        if language is not None and language not in LANGUAGES:
            raise ValueError(f"line {position}: the language must be one of {', '.join(LANGUAGES)}")
        if any(line.number == number for line in lines):
            raise ValueError(f"line {position}: the number is listed twice")
        lines.append(PhoneLine(number=number, department=persona, language=language))
    return tuple(lines)


def line_for(lines: tuple[PhoneLine, ...], dialled: str) -> PhoneLine | None:
    """The line a caller dialled (numbers compared without their `+`)."""
    wanted = dialled.strip().lstrip("+")
    return next((line for line in lines if line.number.lstrip("+") == wanted), None)
