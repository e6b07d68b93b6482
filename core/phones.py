"""Phone numbers: parse what people type, store E.164, mask for logs."""

from __future__ import annotations

import phonenumbers

from core.errors import InvalidPhoneNumber

MAX_INPUT_LENGTH = 64


def normalize(raw: object, default_region: str) -> str:
    """Return the E.164 form of a phone number typed in any common format, or raise.

    Numbers without a leading `+` are read as national numbers of `default_region`
    (`8 916 123-45-67` in RU).
    """
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_INPUT_LENGTH:
        raise InvalidPhoneNumber("not a phone number")
    try:
        parsed = phonenumbers.parse(raw.strip(), default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(str(exc)) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber("not a valid number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_from_telegram(raw: str) -> str:
    """Return the E.164 form of a contact's number; Telegram often omits the `+`.

    Such numbers are international, so a missing `+` is added rather than a region guessed.
    """
    text = (raw or "").strip()
    if text and not text.startswith("+"):
        text = "+" + text
    return normalize(text, "ZZ")


def mask(phone_number: str | None) -> str:
    """Hide the middle of a number for logs: `+7916*****67`."""
    if not phone_number:
        return "-"
    if len(phone_number) <= 6:
        return "*" * len(phone_number)
    return phone_number[:5] + "*" * (len(phone_number) - 7) + phone_number[-2:]
