"""What the worker itself says, outside any persona's conversation, in both languages."""

from __future__ import annotations

NOT_CONFIGURED = {
    "en": (
        "Thank you for calling Ornina. Our assistants are not configured yet, "
        "please call again later. Goodbye."
    ),
    "ar": "شكراً لاتصالك بأورنينا. مساعدونا غير مهيئين بعد، يرجى الاتصال لاحقاً. مع السلامة.",
}

APOLOGY = {
    "en": (
        "We are sorry, we are having a technical problem and cannot continue this call. "
        "We will call you back as soon as possible. Goodbye."
    ),
    "ar": (
        "نعتذر، نواجه مشكلة تقنية ولا نستطيع متابعة هذه المكالمة. "
        "سنعاود الاتصال بك في أقرب وقت. مع السلامة."
    ),
}

APOLOGY_WITH_TICKET = {
    "en": (
        "We are sorry, we are having a technical problem and cannot continue this call. "
        "We have opened callback request {number}, and we will call you back as soon as "
        "possible. Goodbye."
    ),
    "ar": (
        "نعتذر، نواجه مشكلة تقنية ولا نستطيع متابعة هذه المكالمة. "
        "فتحنا طلب معاودة اتصال برقم {number}، وسنعاود الاتصال بك في أقرب وقت. مع السلامة."
    ),
}


def apology(language: str, ticket_number: str | None) -> str:
    if ticket_number:
        return APOLOGY_WITH_TICKET[language].format(number=ticket_number)
    return APOLOGY[language]


HUMAN_TRANSFER = {
    "en": "Of course. I'm transferring you to a colleague now, please stay on the line.",
    "ar": "بالتأكيد. سأحوّلك الآن إلى أحد زملائي، يرجى البقاء على الخط.",
}
"""Said just before the SIP REFER hands a phone caller to a person."""

NO_HUMAN = {
    "web": {
        "en": "I can't put you through to a person from a web call, but our team can call you "
        "back.",
        "ar": "لا أستطيع تحويلك إلى موظف من مكالمة عبر الموقع، لكن يمكن لفريقنا معاودة الاتصال بك.",
    },
    "no_destination": {
        "en": "I'm sorry, no colleague can take calls right now, but our team can call you back.",
        "ar": "عذراً، لا يوجد زميل متاح لاستقبال المكالمات الآن، لكن يمكن لفريقنا معاودة "
        "الاتصال بك.",
    },
    "failed": {
        "en": "I'm sorry, I couldn't put you through to a colleague, but our team can call you "
        "back.",
        "ar": "عذراً، لم أتمكن من تحويلك إلى أحد زملائي، لكن يمكن لفريقنا معاودة الاتصال بك.",
    },
}
"""Why a caller who asked for a person stays with the persona (a callback ticket follows)."""
