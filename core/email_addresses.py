"""Email addresses: the one rule of what an address is and how it is written down."""

from __future__ import annotations

import email_validator

MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit on a forward path


class InvalidEmail(ValueError):
    """Not an email address we can send to."""


def normalize(raw: str) -> str:
    """Return the address in its stored form (syntax checked, IDNA domain, lower case); raise InvalidEmail.

    Deliverability (DNS) is not checked: the confirmation code proves the address works.
    Addresses are compared in lower case: providers treat the local part case-insensitively in
    practice, and one person must not hold two accounts under `Ann@` and `ann@`.
    """
    if not isinstance(raw, str) or len(raw) > MAX_ADDRESS_LENGTH:
        raise InvalidEmail("not an email address")
    try:
        valid = email_validator.validate_email(raw.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    return valid.normalized.lower()


def mask(address: str) -> str:
    """Return the address with most of its local part hidden, for messages (`a***@example.com`)."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"
