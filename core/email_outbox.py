"""The outbox of emails: one row per event, sent by the worker, never twice.

A row is keyed by its event (`event_key`, unique): recording the same event again (a retried
task, a repeated request) finds the row and adds nothing. The worker leases a row before it
sends (`claim`) and marks it sent after the SMTP server accepted it (`mark_sent`); a failed send
releases the lease for the next retry. The code or link token an email carries (`secret`) is
erased once sent.
"""

from __future__ import annotations

import json
from typing import Any

Row = dict[str, Any]

# What an email tells of. Codes and security alerts always go to a confirmed address; the
# notice of a login approved in Telegram is the one kind the person may switch off
# (`email_events.NON_SECURITY_KINDS`).
CONFIRM_CODE = "confirm_code"
LOGIN_CODE = "login_code"
LOGIN = "login"
NOT_ME = "not_me"
PHONE_UNLINKED = "phone_unlinked"
EMAIL_CHANGED = "email_changed"
EMAIL_REMOVED = "email_removed"
PASSKEY_ADDED = "passkey_added"
PASSKEY_REMOVED = "passkey_removed"
KINDS = (CONFIRM_CODE, LOGIN_CODE, LOGIN, NOT_ME, PHONE_UNLINKED, EMAIL_CHANGED, EMAIL_REMOVED, PASSKEY_ADDED,
         PASSKEY_REMOVED)

# A worker that took a row and died: another may take it after this long.
LEASE_SECONDS = 60
MAX_ERROR_LENGTH = 500


def record(
    conn,
    *,
    kind: str,
    event_key: str,
    recipient: str,
    language: str,
    details: dict[str, Any] | None = None,
    secret: str | None = None,
    link_token_hash: str | None = None,
    session_id: str | None = None,
    user_id: int | None = None,
) -> str | None:
    """Add the email of an event (inside the caller's transaction); its id, or None if this event already has one."""
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}")
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO email_outbox (event_key, kind, recipient, language, details, secret, link_token_hash,"
            " session_id, user_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (event_key) DO NOTHING RETURNING id",
            (event_key, kind, recipient, language, json.dumps(details or {}), secret, link_token_hash, session_id,
             user_id),
        )
        row = cur.fetchone()
    return str(row["id"]) if row else None


def recent_count(conn, recipient: str, kind: str, within_seconds: int) -> int:
    """Count the emails of a kind recorded for an address in the last `within_seconds`.

    Takes a transaction lock on the address first, so requests racing each other count one after
    another and a cap holds exactly (the bot handles updates concurrently).
    """
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"email-outbox:{recipient}",))
        cur.execute(
            "SELECT count(*) AS n FROM email_outbox WHERE recipient = %s AND kind = %s"
            " AND created_at > now() - make_interval(secs => %s)",
            (recipient, kind, within_seconds),
        )
        return cur.fetchone()["n"]


def claim(conn, outbox_id: str, owner_seconds: int = LEASE_SECONDS) -> Row | None:
    """Lease an unsent email for sending; None if it was sent or another worker holds it."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE email_outbox SET claimed_until = now() + make_interval(secs => %s), attempts = attempts + 1"
            " WHERE id = %s AND sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < now()) RETURNING *",
            (owner_seconds, outbox_id),
        )
        return cur.fetchone()


def mark_sent(conn, outbox_id: str) -> bool:
    """Record that the SMTP server accepted the email; erase its secret. False if it was already marked."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE email_outbox SET sent_at = now(), secret = NULL, claimed_until = NULL, last_error = NULL"
            " WHERE id = %s AND sent_at IS NULL RETURNING id",
            (outbox_id,),
        )
        return cur.fetchone() is not None


def release(conn, outbox_id: str, error: str) -> None:
    """Give a failed email back for its next try, saying why it failed."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE email_outbox SET claimed_until = NULL, last_error = %s WHERE id = %s AND sent_at IS NULL",
            (error[:MAX_ERROR_LENGTH], outbox_id),
        )


def get(conn, outbox_id: str) -> Row | None:
    """Return one email of the outbox."""
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM email_outbox WHERE id = %s", (outbox_id,))
        return cur.fetchone()


def purge(conn, retention_days: int) -> int:
    """Delete emails (their address, details) and spent or dead codes older than the retention period."""
    with conn.cursor() as cur:
        cur.execute("DELETE FROM email_outbox WHERE created_at < now() - make_interval(days => %s)", (retention_days,))
        deleted = cur.rowcount
        cur.execute("DELETE FROM email_codes WHERE expires_at < now() - interval '1 day'")
        return deleted + cur.rowcount


def stalled(conn, older_than_seconds: int, limit: int = 100) -> list[str]:
    """Return unsent, unleased emails older than this (their task was lost): the sweep queues them again."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id FROM email_outbox WHERE sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())"
            " AND created_at < now() - make_interval(secs => %s) AND created_at > now() - interval '1 day'"
            " ORDER BY created_at LIMIT %s",
            (older_than_seconds, limit),
        )
        return [str(row["id"]) for row in cur.fetchall()]
