"""Logins approved without a Telegram prompt (a passkey, an email code): the one home of how they open.

Such a login is still an auth session, recorded already consumed with its `method`, so everything
that works on a Telegram login works on it unchanged: its token family (refresh, logout,
/sessions), its "New login" notice in Telegram with an "End this login" button, and "It wasn't me".
Telegram stays the root of trust: every other way in is announced there and can be ended there.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from core import auth_sessions, token_families

Row = dict[str, Any]

TELEGRAM = "telegram"
PASSKEY = "passkey"
EMAIL = "email"
METHODS = (TELEGRAM, PASSKEY, EMAIL)
# The ways in that open a login directly; a Telegram login goes through a prompt instead.
DIRECT_METHODS = (PASSKEY, EMAIL)


@dataclass(frozen=True)
class DirectLogin:
    """A login opened directly: its (consumed) session, for the notice, and its token family."""

    session: Row
    family: Row


def open_login(conn, *, user: Row, method: str, client_ip: str | None, user_agent: str | None) -> DirectLogin:
    """Record a login of `user` approved by `method` and open its token family (inside the caller's transaction).

    The caller hands out the family's tokens and, after the commit, enqueues the session's login
    notice (`jobs.enqueue_login_notice`).
    """
    if method not in DIRECT_METHODS:
        raise ValueError(f"not a direct login method: {method!r}")
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO auth_sessions (secret_hash, start_token, status, phone_number, user_id, client_ip,"
            " user_agent, expires_at, decided_at, consumed_at, method)"
            " VALUES (%s, %s, 'consumed', %s, %s, %s, %s, now(), now(), now(), %s) RETURNING *",
            (
                # Nobody holds these: the session can never be polled or opened from Telegram.
                auth_sessions.hash_secret(secrets.token_urlsafe(auth_sessions.SESSION_SECRET_BYTES)),
                secrets.token_urlsafe(auth_sessions.START_TOKEN_BYTES),
                user["phone_number"],
                user["id"],
                client_ip,
                (user_agent or "")[:512] or None,
                method,
            ),
        )
        session = cur.fetchone()
    family = token_families.start(
        conn, user_id=user["id"], auth_session_pk=str(session["id"]), client_ip=client_ip, user_agent=user_agent
    )
    return DirectLogin(session, family)


def approved_in_telegram(conn, family_id: str, within_seconds: int) -> bool:
    """Tell whether a token family is a login approved by a Telegram prompt in the last `within_seconds`.

    Adding another way in (a passkey) asks for this: a stolen access token alone can't plant one.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT 1 FROM token_families f JOIN auth_sessions s ON s.id = f.auth_session_id"
            " WHERE f.id::text = %s AND f.revoked_at IS NULL AND s.method = 'telegram'"
            " AND s.decided_at > now() - make_interval(secs => %s)",
            (family_id, within_seconds),
        )
        return cur.fetchone() is not None
