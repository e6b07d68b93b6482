"""Which events mail whom: the one home of that rule (the web app, the bot and the worker only call it).

Only a confirmed address is mailed, in the person's language (`texts.pick_language`), one email
per event (`email_outbox`, keyed by the event):

- a new login (browser, IP, time and a "Not you?" link that ends it), however it was approved;
- "It wasn't me" pressed on a prompt;
- a passkey added or removed (`account_event`, called by `core.passkeys` in the same transaction);
- the phone unlinked (the account is gone; the address still hears of it);
- the address changed or removed (to the old address).

Only the notice of a login approved in Telegram is non-security mail, which the person may switch
off in the bot: they approved it in Telegram a moment ago, and Telegram already shows it. A login
by passkey or email code happened without Telegram, and the alerts tell of a change to the account
or an alarm: those always go.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from core import direct_logins, email_outbox, texts, useragents

Row = dict[str, Any]

LINK_TOKEN_BYTES = 32
ACCOUNT_EVENT_KINDS = (email_outbox.PASSKEY_ADDED, email_outbox.PASSKEY_REMOVED)


def language_of(user: Row, default_language: str) -> str:
    """Return the language of a person's email: their Telegram language, else BOT_DEFAULT_LANGUAGE."""
    return texts.pick_language(default_language, user.get("language_code"))


def is_non_security(kind: str, method: str | None = None) -> bool:
    """Tell whether an email may be switched off: only the notice of a login approved in Telegram."""
    return kind == email_outbox.LOGIN and method == direct_logins.TELEGRAM


def wants(user: Row, kind: str, method: str | None = None) -> bool:
    """Tell whether this person is mailed about this event: a confirmed address, and not switched off."""
    if not user.get("email") or user.get("email_verified_at") is None:
        return False
    return user.get("email_notices", True) or not is_non_security(kind, method)


def link_token_hash(token: str) -> str:
    """Return the stored hash of a "Not you?" link token."""
    return hashlib.sha256(token.encode()).hexdigest()


def login_opened(conn, session: Row, user: Row, default_language: str) -> str | None:
    """Mail the notice of a new login with its "Not you?" link (inside the transaction that opened it)."""
    method = session.get("method") or direct_logins.TELEGRAM
    if not wants(user, email_outbox.LOGIN, method):
        return None
    token = secrets.token_urlsafe(LINK_TOKEN_BYTES)
    moment = session.get("decided_at") or session.get("created_at")
    return email_outbox.record(
        conn,
        kind=email_outbox.LOGIN,
        event_key=f"login:{session['id']}",
        recipient=user["email"],
        language=language_of(user, default_language),
        details={
            "method": method,
            "ip": session.get("client_ip"),
            "browser": useragents.describe(session.get("user_agent")),
            "time": moment.isoformat() if moment is not None else None,
        },
        secret=token,
        link_token_hash=link_token_hash(token),
        session_id=str(session["id"]),
        user_id=user["id"],
    )


def not_me(conn, user: Row, session_pk: str, default_language: str) -> str | None:
    """Mail that "It wasn't me" was pressed on a login's prompt."""
    if not wants(user, email_outbox.NOT_ME):
        return None
    return email_outbox.record(
        conn, kind=email_outbox.NOT_ME, event_key=f"not_me:{session_pk}", recipient=user["email"],
        language=language_of(user, default_language), session_id=session_pk, user_id=user["id"],
    )


def phone_unlinked(conn, user: Row, default_language: str) -> str | None:
    """Mail that the phone was unlinked (`user` as it was before it was deleted)."""
    if not wants(user, email_outbox.PHONE_UNLINKED):
        return None
    return email_outbox.record(
        conn, kind=email_outbox.PHONE_UNLINKED, event_key=f"phone_unlinked:{user['id']}", recipient=user["email"],
        language=language_of(user, default_language), details={"phone": user["phone_number"]},
    )


def address_changed(conn, user: Row, new_address: str | None, change_id: str, default_language: str) -> str | None:
    """Mail the old, confirmed address that it was replaced by `new_address` (None: removed)."""
    if not wants(user, email_outbox.EMAIL_CHANGED):
        return None
    kind = email_outbox.EMAIL_CHANGED if new_address else email_outbox.EMAIL_REMOVED
    return email_outbox.record(
        conn, kind=kind, event_key=f"{kind}:{change_id}", recipient=user["email"],
        language=language_of(user, default_language), details={"new": new_address}, user_id=user["id"],
    )


def account_event(conn, user: Row, kind: str, event_id: str, details: dict[str, Any],
                  default_language: str) -> str | None:
    """Mail a change to the account made elsewhere (`passkey_added`, `passkey_removed`, from `core.passkeys`).

    `event_id` names the event once (e.g. the credential's id): recording it again sends nothing.
    After the commit, the caller passes the returned id to `jobs.enqueue_email`.
    """
    if kind not in ACCOUNT_EVENT_KINDS:
        raise ValueError(f"not an account event: {kind!r}")
    if not wants(user, kind):
        return None
    return email_outbox.record(
        conn, kind=kind, event_key=f"{kind}:{event_id}", recipient=user["email"],
        language=language_of(user, default_language), details=details, user_id=user["id"],
    )


def code_email(conn, kind: str, code_row: Row, code: str, user: Row, default_language: str) -> str | None:
    """Mail a one-time code (`confirm_code` to the address being confirmed, `login_code` to a confirmed one)."""
    return email_outbox.record(
        conn, kind=kind, event_key=f"{kind}:{code_row['id']}", recipient=code_row["address"],
        language=language_of(user, default_language), secret=code, user_id=user["id"],
    )


def login_of_link(conn, token: str) -> Row | None:
    """Return the login-notice email a "Not you?" link token belongs to (its session and user), or None."""
    if not isinstance(token, str) or not token or len(token) > 128:
        return None
    with conn.cursor() as cur:
        cur.execute(
            "SELECT * FROM email_outbox WHERE link_token_hash = %s AND kind = %s AND session_id IS NOT NULL",
            (link_token_hash(token), email_outbox.LOGIN),
        )
        return cur.fetchone()

