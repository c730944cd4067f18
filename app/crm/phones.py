"""Phone numbers are stored in E.164 (+966501234567); anything that is not a possible number
is refused rather than guessed at."""

import phonenumbers

from app.crm.errors import InvalidInput

MAX_PHONE_INPUT = 32


def normalise_phone(raw: str, default_region: str = "SA") -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput("phone: the number is empty")
    if len(raw) > MAX_PHONE_INPUT:
        raise InvalidInput("phone: the number is too long")
    text = raw.strip().translate(ARABIC_DIGITS)
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidInput("phone: not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("phone: not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: str | None) -> str:
    """For logs: keep the country code and the last two digits."""
    if not phone:
        return "-"
    return phone[:4] + "*" * max(len(phone) - 6, 0) + phone[-2:]


# Arabic-Indic and Eastern Arabic-Indic digits, as a caller or an STT may write them; the
# invisible direction marks (LRM, RLM, ALM, embeddings, isolates) that right-to-left text
# puts around and inside a pasted number are dropped.
ARABIC_DIGITS = str.maketrans(
    "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹",
    "01234567890123456789",
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
)
