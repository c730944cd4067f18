"""Provider-double scripts for the call flows the end-to-end tests place."""

from __future__ import annotations

SALES_PRICE_REPLY = {
    "en": "Our business website costs one thousand five hundred dollars.",
    "ar": "سعر الموقع الإلكتروني للأعمال ألف وخمسمئة دولار.",
}
CALLER_ASKS_PRICE = {
    "en": "Hello, I would like to buy a website. What is the price?",
    "ar": "مرحبا، أريد شراء موقع إلكتروني. كم السعر؟",
}


def reception_transfers_to_sales(language: str) -> list[dict]:
    """Ahmed transfers the caller's first sentence to Sarah, who then quotes the catalog."""
    return [
        {
            # Reception is the only persona with identify_caller
            "match": {"tool_offered": "identify_caller", "last_role": "user"},
            "reply": {
                "tool_calls": [
                    {
                        "name": "transfer_to_department",
                        "arguments": {
                            "department": "sales",
                            "reason": "wants to buy a website",
                            "summary": "Caller asked for the price of a business website.",
                        },
                    }
                ]
            },
        },
        {
            "match": {"tool_offered": "create_quote"},
            "reply": {"text": SALES_PRICE_REPLY[language]},
        },
    ]
