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
