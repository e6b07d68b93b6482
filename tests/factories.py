"""Tiny factories for tests: rows with sensible defaults, overridable by keyword."""

from __future__ import annotations

import itertools
from typing import Any

from core import auth_sessions, users

_numbers = itertools.count(1)


def next_phone() -> str:
    """Return a new valid Russian mobile number in E.164."""
    return f"+7916{next(_numbers) % 10_000_000:07d}"


def next_telegram_id() -> int:
    """Return a new Telegram user id."""
    return 500_000_000 + next(_numbers)


def make_user(conn, **overrides: Any) -> dict:
    """Insert a linked user and return its row."""
    fields = {
        "phone_number": next_phone(),
        "telegram_id": next_telegram_id(),
        "first_name": "Anna",
        "last_name": None,
        "username": "anna",
        "language_code": "en",
    }
    fields.update(overrides)
    result = users.link(conn, **fields)
    assert result.user is not None, result.outcome
    return result.user


def make_session(conn, **overrides: Any) -> auth_sessions.NewSession:
    """Insert a pending auth session and return it with its browser secret."""
    fields: dict[str, Any] = {
        "phone_number": next_phone(),
        "user_id": None,
        "ttl_seconds": 300,
        "approval_mode": "simple",
        "client_ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    }
    fields.update(overrides)
    if "user_id" not in overrides:
        # As /init does: a login of a phone linked when it starts belongs to that user.
        fields["user_id"] = auth_sessions.LINKED_USER
    return auth_sessions.create(conn, **fields)
