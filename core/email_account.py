"""An account's email address and the sign-in by email code: the one home of their rules.

- Anyone logged in may add an address: a code goes to it, and the address counts once the code
  comes back (`confirm`). A confirmed address is changed or removed only from Telegram (the bot
  asks for a tap first): a stolen access token can't silence the alerts or take the fallback
  way in. The old address is told.
- One account per confirmed address; the code proves the asker holds the address, so being told
  it is taken leaks nothing to them.
- The sign-in by email code (EMAIL_LOGIN=on) mails a code only to a confirmed address; an
  unknown address gets the same answer and no mail.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import psycopg2.errors

from core import email_codes, email_events, email_outbox

Row = dict[str, Any]


class Requested(enum.Enum):
    """What asking for an address did."""

    CODE_SENT = "code_sent"
    NEEDS_TELEGRAM = "needs_telegram"  # a confirmed address is changed in the bot only
    TOO_MANY = "too_many"  # the address got MAX_CONFIRM_CODES codes lately: nobody may mail-bomb it


# Confirmation codes one address may receive per window, whoever asks (web or bot).
MAX_CONFIRM_CODES = 3
CONFIRM_CODES_WINDOW_SECONDS = 600


class Confirmed(enum.Enum):
    """What a confirmation code did."""

    CONFIRMED = "confirmed"
    WRONG_CODE = "wrong_code"  # wrong, expired, spent, or too many tries: one answer for all
    TAKEN = "taken"  # another account confirmed this address first


@dataclass(frozen=True)
class Result:
    """An outcome, the user as it now stands, and the emails to send after the commit."""

    outcome: Any
    user: Row | None
    emails: tuple[str, ...] = ()


def has_confirmed(user: Row) -> bool:
    """Tell whether the account has a confirmed address."""
    return bool(user.get("email")) and user.get("email_verified_at") is not None


def public_fields(user: Row) -> dict[str, Any]:
    """Return `email` and `email_verified` as /me shows them: the confirmed address, else the one being confirmed."""
    if has_confirmed(user):
        return {"email": user["email"], "email_verified": True}
    return {"email": user.get("email_pending"), "email_verified": False}


def request_address(conn, user: Row, address: str, default_language: str, *,
                    confirmed_in_telegram: bool = False) -> Result:
    """Ask for `address` (normalised) on the account: mail it a confirmation code."""
    if has_confirmed(user) and not confirmed_in_telegram:
        return Result(Requested.NEEDS_TELEGRAM, user)
    recent = email_outbox.recent_count(conn, address, email_outbox.CONFIRM_CODE, CONFIRM_CODES_WINDOW_SECONDS)
    if recent >= MAX_CONFIRM_CODES:
        return Result(Requested.TOO_MANY, user)
    with conn.cursor() as cur:
        cur.execute("UPDATE users SET email_pending = %s, updated_at = now() WHERE id = %s RETURNING *",
                    (address, user["id"]))
        user = cur.fetchone()
    code_row, code = email_codes.issue(conn, purpose=email_codes.CONFIRM, user_id=user["id"], address=address)
    sent = email_events.code_email(conn, email_outbox.CONFIRM_CODE, code_row, code, user, default_language)
    return Result(Requested.CODE_SENT, user, _ids(sent))


def propose_change(conn, user: Row, address: str) -> Row:
    """Remember the address the person typed in the bot, until they confirm the change with a tap."""
    with conn.cursor() as cur:
        cur.execute("UPDATE users SET email_pending = %s, updated_at = now() WHERE id = %s RETURNING *",
                    (address, user["id"]))
        return cur.fetchone()


def confirm(conn, user: Row, code: str, default_language: str) -> Result:
    """Confirm the address a code was mailed to; tell the old address if it replaces one."""
    spent = email_codes.verify(conn, purpose=email_codes.CONFIRM, user_id=user["id"], code=code)
    if spent is None:
        return Result(Confirmed.WRONG_CODE, user)
    with conn.cursor() as cur:
        cur.execute("SAVEPOINT email_confirm")
        try:
            cur.execute(
                "UPDATE users SET email = %s, email_verified_at = now(), email_pending = NULL, updated_at = now()"
                " WHERE id = %s RETURNING *",
                (spent["address"], user["id"]),
            )
        except psycopg2.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT email_confirm")
            return Result(Confirmed.TAKEN, user)
        updated = cur.fetchone()
    emails: tuple[str, ...] = ()
    if has_confirmed(user) and user["email"] != spent["address"]:
        emails = _ids(email_events.address_changed(conn, user, spent["address"], str(spent["id"]), default_language))
    return Result(Confirmed.CONFIRMED, updated, emails)


def remove(conn, user: Row, default_language: str) -> Result:
    """Remove the account's address (confirmed in Telegram by the caller); tell the old address."""
    emails: tuple[str, ...] = ()
    if has_confirmed(user):
        change_id = f"{user['id']}:{user['email_verified_at'].isoformat()}"
        emails = _ids(email_events.address_changed(conn, user, None, change_id, default_language))
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE users SET email = NULL, email_verified_at = NULL, email_pending = NULL, updated_at = now()"
            " WHERE id = %s RETURNING *",
            (user["id"],),
        )
        updated = cur.fetchone()
        cur.execute("DELETE FROM email_codes WHERE user_id = %s", (user["id"],))
    return Result(None, updated, emails)


def set_notices(conn, user_id: int, enabled: bool) -> Row | None:
    """Switch non-security mail (login notices of logins approved in Telegram) on or off."""
    with conn.cursor() as cur:
        cur.execute("UPDATE users SET email_notices = %s, updated_at = now() WHERE id = %s RETURNING *",
                    (enabled, user_id))
        return cur.fetchone()


def get_by_confirmed_address(conn, address: str) -> Row | None:
    """Return the account whose confirmed address this is."""
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM users WHERE email = %s AND email_verified_at IS NOT NULL", (address,))
        return cur.fetchone()


def request_login_code(conn, address: str, default_language: str) -> tuple[str, ...]:
    """Mail a sign-in code to a confirmed address; nothing for an unknown one (the caller answers the same)."""
    user = get_by_confirmed_address(conn, address)
    if user is None:
        return ()
    code_row, code = email_codes.issue(conn, purpose=email_codes.LOGIN, user_id=user["id"], address=address)
    return _ids(email_events.code_email(conn, email_outbox.LOGIN_CODE, code_row, code, user, default_language))


def verify_login_code(conn, address: str, code: str) -> Row | None:
    """Return the account a right sign-in code for this address signs in (spending it), else None."""
    user = get_by_confirmed_address(conn, address)
    if user is None:
        return None
    spent = email_codes.verify(conn, purpose=email_codes.LOGIN, user_id=user["id"], code=code)
    if spent is None or spent["address"] != address:
        return None
    return user


def _ids(outbox_id: str | None) -> tuple[str, ...]:
    return (outbox_id,) if outbox_id else ()
