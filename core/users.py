"""Users: a phone number linked to a Telegram account."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import psycopg2.errors

from core import auth_sessions, email_account, token_families

Row = dict[str, Any]


class LinkOutcome(enum.Enum):
    """What linking a phone to a Telegram account did."""

    LINKED = "linked"  # a new user
    ALREADY_LINKED = "already_linked"  # this phone was already this account's; profile refreshed
    PHONE_CHANGED = "phone_changed"  # this account now has a new number (Telegram says so)
    PHONE_TAKEN = "phone_taken"  # the phone belongs to another Telegram account: refused


@dataclass(frozen=True)
class LinkResult:
    """The outcome of `link` and the user row as it now stands (None when refused)."""

    outcome: LinkOutcome
    user: Row | None


def get(conn, user_id: int) -> Row | None:
    """Return the user with this id."""
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM users WHERE id = %s", (user_id,))
        return cur.fetchone()


def get_by_phone(conn, phone_number: str) -> Row | None:
    """Return the user linked to this E.164 phone number."""
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM users WHERE phone_number = %s", (phone_number,))
        return cur.fetchone()


def get_by_telegram_id(conn, telegram_id: int) -> Row | None:
    """Return the user linked to this Telegram account."""
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM users WHERE telegram_id = %s", (telegram_id,))
        return cur.fetchone()


def link(
    conn,
    *,
    phone_number: str,
    telegram_id: int,
    first_name: str | None = None,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
) -> LinkResult:
    """Link a phone to the Telegram account that proved it owns it (its own shared contact).

    A phone linked to another account is never re-linked. An account that shares a new
    number of its own moves to that number: Telegram vouches for the account's current phone.
    """
    profile = (first_name, last_name, username, language_code)
    with conn.cursor() as cur:
        # Lock both candidate rows so two contacts shared at once can't interleave.
        cur.execute(
            "SELECT * FROM users WHERE phone_number = %s OR telegram_id = %s FOR UPDATE",
            (phone_number, telegram_id),
        )
        rows = cur.fetchall()
        by_phone = next((r for r in rows if r["phone_number"] == phone_number), None)
        by_account = next((r for r in rows if r["telegram_id"] == telegram_id), None)
        if by_phone is not None and by_phone["telegram_id"] != telegram_id:
            return LinkResult(LinkOutcome.PHONE_TAKEN, None)
        if by_phone is not None:
            cur.execute(
                "UPDATE users SET first_name = %s, last_name = %s, username = %s, language_code = %s,"
                " updated_at = now() WHERE id = %s RETURNING *",
                (*profile, by_phone["id"]),
            )
            return LinkResult(LinkOutcome.ALREADY_LINKED, cur.fetchone())
        if by_account is not None:
            cur.execute(
                "UPDATE users SET phone_number = %s, first_name = %s, last_name = %s, username = %s,"
                " language_code = %s, updated_at = now() WHERE id = %s RETURNING *",
                (phone_number, *profile, by_account["id"]),
            )
            return LinkResult(LinkOutcome.PHONE_CHANGED, cur.fetchone())
        cur.execute("SAVEPOINT link_insert")
        try:
            cur.execute(
                "INSERT INTO users (phone_number, telegram_id, first_name, last_name, username, language_code)"
                " VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
                (phone_number, telegram_id, *profile),
            )
        except psycopg2.errors.UniqueViolation:
            # Another transaction linked this phone or account between our SELECT and INSERT
            # (the same person sharing the contact twice, or someone else).
            cur.execute("ROLLBACK TO SAVEPOINT link_insert")
            cur.execute("SELECT * FROM users WHERE phone_number = %s", (phone_number,))
            winner = cur.fetchone()
            if winner is not None and winner["telegram_id"] == telegram_id:
                return LinkResult(LinkOutcome.ALREADY_LINKED, winner)
            return LinkResult(LinkOutcome.PHONE_TAKEN, None)
        return LinkResult(LinkOutcome.LINKED, cur.fetchone())


def note_language(conn, telegram_id: int, language_code: str | None) -> bool:
    """Record the Telegram language an account's update just carried; True if it changed.

    The worker speaks to a person in the language stored here, so it follows the one their
    Telegram app now sends. An unchanged language matches no row: nothing is written.
    """
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE users SET language_code = %s, updated_at = now()"
            " WHERE telegram_id = %s AND language_code IS DISTINCT FROM %s RETURNING id",
            (language_code, telegram_id, language_code),
        )
        return cur.fetchone() is not None


def delete(conn, user_id: int) -> Row | None:
    """Forget a user: the phone-to-Telegram link and profile (their token families go with it)."""
    with conn.cursor() as cur:
        cur.execute("DELETE FROM users WHERE id = %s RETURNING *", (user_id,))
        return cur.fetchone()


def public_profile(user: Row) -> dict[str, Any]:
    """Return the user as the API shows it (`/api/auth/me` and the status answer)."""
    return {
        "id": user["id"],
        "phone_number": user["phone_number"],
        "telegram": {
            "id": user["telegram_id"],
            "username": user["username"],
            "first_name": user["first_name"],
            "last_name": user["last_name"],
        },
        "created_at": user["created_at"].isoformat(),
        **email_account.public_fields(user),
    }


@dataclass(frozen=True)
class Unlinked:
    """What unlinking did: the user as it was, the logins ended, the pending logins rejected."""

    user: Row
    logins_ended: int
    rejected: list[Row]


def unlink(conn, user: Row) -> Unlinked:
    """Forget a user: end every login, reject the phone's pending logins, delete the phone-to-Telegram link."""
    count = token_families.revoke_all_for_user(conn, user["id"], "unlinked")
    rejected = auth_sessions.reject_pending_for_phone(conn, user["phone_number"])
    delete(conn, user["id"])
    return Unlinked(user, count, rejected)
