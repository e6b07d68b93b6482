"""The "Not you?" link of a login-notice email: it ends that login, like "End this login" in Telegram."""

from __future__ import annotations

from typing import Any

from core import decisions, email_events

Row = dict[str, Any]


def end_login_by_link(conn, token: str) -> tuple[Row | None, Row | None]:
    """End the login a link tells of: (its email, the ended session, or None if it was no longer live)."""
    email = email_events.login_of_link(conn, token)
    if email is None or email["user_id"] is None:
        return email, None
    return email, decisions.end_login_of(conn, str(email["session_id"]), email["user_id"])
