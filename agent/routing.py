"""Smart routing for Reception: when the caller's words plainly name one department, the
model is told so before it answers, so a caller who asks for sales or support in their first
sentence is there after one turn. Ambiguous words give no hint; the model decides."""

from __future__ import annotations

import re

from personas import PersonaType

# Plain words per department, as callers say them. Arabic is matched after normalisation
# (no diacritics, one alef, ha for ta marbuta, ya for alef maqsura).
KEYWORDS: dict[PersonaType, tuple[str, ...]] = {
    PersonaType.SALES: (
        "buy",
        "purchase",
        "price",
        "pricing",
        "prices",
        "cost",
        "how much",
        "quote",
        "quotation",
        "subscribe",
        "subscription",
        "sales",
        "sign up",
        "اشتري",
        "اشتراء",
        "شراء",
        "سعر",
        "اسعار",
        "الاسعار",
        "عرض سعر",
        "تكلفه",
        "كم يكلف",
        "اشتراك",
        "المبيعات",
        "مبيعات",
    ),
    PersonaType.COMPLAINTS: (
        "complaint",
        "complain",
        "problem",
        "issue",
        "broken",
        "not working",
        "doesn't work",
        "does not work",
        "stopped working",
        "refund",
        "support",
        "ticket",
        "not arrived",
        "late",
        "delay",
        "faulty",
        "error",
        "شكوى",
        "شكوي",
        "اشتكي",
        "مشكله",
        "لا يعمل",
        "ما يشتغل",
        "معطل",
        "عطل",
        "خلل",
        "تعطل",
        "استرجاع",
        "الدعم",
        "دعم فني",
        "تذكره",
        "تاخير",
        "متاخر",
    ),
}

_DIACRITICS = re.compile(r"[\u064B-\u0652\u0640]")
_ARABIC = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ة": "ه", "ى": "ي"})


def normalise(text: str) -> str:
    return _DIACRITICS.sub("", text).translate(_ARABIC).lower()


def _mentions(text: str, keyword: str) -> bool:
    if keyword.isascii():
        return re.search(rf"\b{re.escape(keyword)}\b", text) is not None
    return keyword in text


def detect_department(text: str) -> PersonaType | None:
    """The one department the caller's words point to, or None if none or several do."""
    words = normalise(text)
    matches = [
        department
        for department, keywords in KEYWORDS.items()
        if any(_mentions(words, normalise(keyword)) for keyword in keywords)
    ]
    return matches[0] if len(matches) == 1 else None


def routing_hint(department: PersonaType) -> str:
    return (
        f"Routing hint: the caller's request is for {department.value}. Unless they clearly "
        f"want something else, call transfer_to_department now with department "
        f"'{department.value}', a short reason and a summary; do not ask them to repeat it."
    )
