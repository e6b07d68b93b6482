"""Auth sessions: the login state machine.

    pending --approve--> approved --tokens picked up--> consumed
       |--reject--> rejected
       |--expires_at passed--> expired
       '--cancel--> cancelled

Every transition is one `UPDATE ... WHERE status = 'pending' AND expires_at > now() RETURNING`,
so two taps, a tap racing the expiry, or two pollers racing for the tokens have one winner.
Each transition (and each new session) is mirrored to Redis around its commit by
`core.status_cache`: the status endpoint's hot path and its long polls rely on that.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg2.extensions

from core import db, shared_metrics, status_cache, token_families

Row = dict[str, Any]

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
EXPIRED = "expired"
CANCELLED = "cancelled"
CONSUMED = "consumed"
# Statuses after which nothing changes any more; the prompt shows the outcome.
FINAL_STATUSES = (REJECTED, EXPIRED, CANCELLED, CONSUMED)

SESSION_SECRET_BYTES = 16  # 128 bits, as the contract asks
START_TOKEN_BYTES = 24  # 32 url-safe characters, inside Telegram's 1-64 of [A-Za-z0-9_-]
MAX_SESSION_ID_LENGTH = 64


def session_columns(table: str) -> str:
    """Return the select list of a session row as every reader gets it, from `table` (a name or an alias)."""
    # Expiry is judged by the database clock, the one the transitions use, never the caller's.
    return (
        f"{table}.*, {table}.expires_at <= now() AS overdue,"
        f" GREATEST(0, FLOOR(EXTRACT(EPOCH FROM {table}.expires_at - now())))::int AS expires_in"
    )


SELECT_COLUMNS = session_columns("auth_sessions")

# A login belongs to the user its phone is linked to as it starts (`create(user_id=LINKED_USER)`).
LINKED_USER = "linked_user"


class Refusal(enum.Enum):
    """Why a decision from Telegram was not recorded."""

    NOT_FOUND = "not_found"
    NOT_YOURS = "not_yours"
    EXPIRED = "expired"
    ALREADY_DECIDED = "already_decided"
    COOLDOWN = "cooldown"  # a wrong number was picked for this phone: nothing is approved until it ends


@dataclass(frozen=True)
class NewSession:
    """A freshly created session and the bearer secret that only the browser gets."""

    row: Row
    session_id: str


def hash_secret(session_id: str) -> bytes:
    """Return the stored form of a browser's session id."""
    return hashlib.sha256(session_id.encode("utf-8")).digest()


def looks_like_session_id(text: str) -> bool:
    """Tell whether a string could be a session id at all (cheap pre-check, no I/O)."""
    return 16 <= len(text) <= MAX_SESSION_ID_LENGTH and all(c.isalnum() or c in "-_" for c in text)


def new_match_code() -> str:
    """Return a random two-digit code (10-99) for number matching."""
    return str(10 + secrets.randbelow(90))


def create(
    conn,
    *,
    phone_number: str,
    user_id: int | None | str,
    ttl_seconds: int,
    approval_mode: str,
    client_ip: str | None,
    user_agent: str | None,
    before: db.Sql | None = None,
    prompt_withheld: db.Sql | None = None,
) -> NewSession:
    """Start a pending login for a phone; the caller gives the browser `session_id`.

    `user_id=LINKED_USER` gives the login to the user linked to the phone, looked up in the same
    statement. `before` is run just ahead of it in the same round trip (a lock), and
    `prompt_withheld` is the expression that sets that column (`core.prompt_targets` has both).
    """
    session_id = secrets.token_urlsafe(SESSION_SECRET_BYTES)
    match_code = new_match_code() if approval_mode == "match" else None
    if user_id == LINKED_USER:
        owner = db.Sql("(SELECT id FROM users WHERE phone_number = %s)", (phone_number,))
    else:
        owner = db.Sql("%s", (user_id,))
    withheld = prompt_withheld or db.Sql("NULL")
    prelude = before or db.Sql("")
    with conn.cursor() as cur:
        cur.execute(
            f"{prelude.text}{';' if prelude.text else ''}"
            " INSERT INTO auth_sessions (secret_hash, start_token, phone_number, user_id, approval_mode,"
            " match_code, client_ip, user_agent, expires_at, prompt_withheld)"
            f" VALUES (%s, %s, %s, {owner.text}, %s, %s, %s, %s, now() + make_interval(secs => %s), {withheld.text})"
            f" RETURNING {SELECT_COLUMNS}",
            (
                *prelude.params,
                hash_secret(session_id),
                secrets.token_urlsafe(START_TOKEN_BYTES),
                phone_number,
                *owner.params,
                approval_mode,
                match_code,
                client_ip,
                (user_agent or "")[:512] or None,
                ttl_seconds,
                *withheld.params,
            ),
        )
        row = cur.fetchone()
    status_cache.track_created(conn, row)
    return NewSession(row, session_id)


def get(conn, session_pk: uuid.UUID | str) -> Row | None:
    """Return a session by its internal id."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT {SELECT_COLUMNS} FROM auth_sessions WHERE id = %s", (str(session_pk),))
        return cur.fetchone()


def find_by_session_id(conn, session_id: str) -> Row | None:
    """Return the session a browser's session id belongs to."""
    if not looks_like_session_id(session_id):
        return None
    with conn.cursor() as cur:
        cur.execute(f"SELECT {SELECT_COLUMNS} FROM auth_sessions WHERE secret_hash = %s", (hash_secret(session_id),))
        return cur.fetchone()


def find_by_start_token(conn, start_token: str) -> Row | None:
    """Return the session a deep-link start token belongs to."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT {SELECT_COLUMNS} FROM auth_sessions WHERE start_token = %s", (start_token,))
        return cur.fetchone()


def effective_status(row: Row) -> str:
    """Return the status a client should see: a pending session past `expires_at` is expired."""
    if row["status"] == PENDING and row["overdue"]:
        return EXPIRED
    return row["status"]


def _changed(conn, row: Row | None) -> Row | None:
    """Mirror one transition's outcome to the status cache and the login counters (around the commit); return it."""
    status_cache.track_transitions(conn, [row])
    shared_metrics.track_outcomes(conn, [row])
    return row


# An approval never lands while the phone's wrong-number cooldown runs (checked in the same statement).
NO_COOLDOWN = "(u.match_cooldown_until IS NULL OR u.match_cooldown_until <= now())"


def _decide(conn, session_pk: str, telegram_id: int, new_status: str, only_mode: str | None = None) -> Row | None:
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions s SET status = %s, decided_at = now(), user_id = u.id"
            " FROM users u"
            " WHERE s.id = %s AND s.status = 'pending' AND s.expires_at > now()"
            " AND u.phone_number = s.phone_number AND u.telegram_id = %s"
            " AND (%s::text IS NULL OR s.approval_mode = %s)"
            f" AND (%s <> 'approved' OR {NO_COOLDOWN})"
            " RETURNING s.*",
            (new_status, str(session_pk), telegram_id, only_mode, only_mode, new_status),
        )
        return _changed(conn, cur.fetchone())


def approve(conn, session_pk: str, telegram_id: int) -> Row | None:
    """Approve a pending simple-mode session if `telegram_id` is the account linked to its phone."""
    # A match-mode session is approved only by its number (`pick_number`), never by a bare approve.
    return _decide(conn, session_pk, telegram_id, APPROVED, only_mode="simple")


def reject(conn, session_pk: str, telegram_id: int) -> Row | None:
    """Reject a pending session if `telegram_id` is the account linked to its phone."""
    return _decide(conn, session_pk, telegram_id, REJECTED)


def pick_number(conn, session_pk: str, telegram_id: int, number: str) -> Row | None:
    """Decide a pending match-mode session by the number its owner picked: right approves, wrong rejects.

    Nothing is picked during the phone's wrong-number cooldown: a guesser gets one try per cooldown.
    """
    with conn.cursor() as cur:
        # One statement, so a right and a wrong tap racing each other still have one winner.
        cur.execute(
            "UPDATE auth_sessions s SET status = CASE WHEN s.match_code = %s THEN 'approved' ELSE 'rejected' END,"
            " decided_at = now(), user_id = u.id"
            " FROM users u"
            " WHERE s.id = %s AND s.status = 'pending' AND s.expires_at > now() AND s.approval_mode = 'match'"
            f" AND u.phone_number = s.phone_number AND u.telegram_id = %s AND {NO_COOLDOWN}"
            " RETURNING s.*",
            (number, str(session_pk), telegram_id),
        )
        return _changed(conn, cur.fetchone())


def explain_refusal(conn, session_pk: str, telegram_id: int) -> Refusal:
    """Say why `approve`/`reject` changed nothing for this Telegram user."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT s.status, s.expires_at <= now() AS overdue, u.telegram_id,"
            " u.match_cooldown_until > now() AS cooling_down"
            " FROM auth_sessions s LEFT JOIN users u ON u.phone_number = s.phone_number"
            " WHERE s.id = %s",
            (str(session_pk),),
        )
        row = cur.fetchone()
    if row is None:
        return Refusal.NOT_FOUND
    if row["telegram_id"] != telegram_id:
        return Refusal.NOT_YOURS
    if row["status"] == EXPIRED or (row["status"] == PENDING and row["overdue"]):
        return Refusal.EXPIRED
    if row["status"] == PENDING and row["cooling_down"]:
        return Refusal.COOLDOWN
    if row["status"] == PENDING:
        # Still open, so the button was of the other approval mode: no prompt of this session has it.
        return Refusal.NOT_FOUND
    return Refusal.ALREADY_DECIDED


def cancel(conn, session_id: str) -> Row | None:
    """Cancel a pending session on the browser's request; None if it wasn't pending."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET status = 'cancelled', decided_at = now()"
            " WHERE secret_hash = %s AND status = 'pending' AND expires_at > now() RETURNING *",
            (hash_secret(session_id),),
        )
        return _changed(conn, cur.fetchone())


def expire_if_overdue(conn, session_pk: str) -> Row | None:
    """Mark a pending session whose `expires_at` has passed as expired; None if not due (or not pending).

    A status poll, a cancel and a tap on stale buttons call it for their own login, the worker's
    sweep (`expire_overdue`) for every login nobody asks about, and whichever comes first makes
    the transition.
    """
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET status = 'expired', decided_at = now()"
            " WHERE id = %s AND status = 'pending' AND expires_at <= now() RETURNING *",
            (str(session_pk),),
        )
        return _changed(conn, cur.fetchone())


def expire_overdue(conn, limit: int) -> list[Row]:
    """Expire up to `limit` pending sessions whose `expires_at` has passed, oldest first; return them.

    Rows another transaction holds are skipped (their holder or the next sweep settles them), so
    sweeps of several workers side by side never wait for each other nor expire a login twice.
    """
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET status = 'expired', decided_at = now()"
            " WHERE id IN (SELECT id FROM auth_sessions WHERE status = 'pending' AND expires_at <= now()"
            " ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED)"
            " AND status = 'pending' AND expires_at <= now() RETURNING *",
            (limit,),
        )
        return [row for row in (_changed(conn, row) for row in cur.fetchall()) if row is not None]


def withdraw_approval(conn, session_pk: str, user_id: int) -> Row | None:
    """Reject an approved session of this user whose tokens the website has not taken yet; else None."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET status = 'rejected'"
            " WHERE id = %s AND status = 'approved' AND user_id = %s RETURNING *",
            (str(session_pk), user_id),
        )
        return _changed(conn, cur.fetchone())


@dataclass(frozen=True)
class Poll:
    """A session as a status poll read it; `consumed` when this very read took an approved one's tokens."""

    session: Row
    consumed: bool
    user: Row | None  # the consumed session's user; None if not consumed, or the account is gone
    family: Row | None  # the token family the consumption opened for that user


# Set apart the session's, the user's and the family's columns in the row of `poll`.
_USER_COLUMNS_FOLLOW = "user_columns_follow"
_FAMILY_COLUMNS_FOLLOW = "family_columns_follow"


def poll(conn, session_id: str, *, client_ip: str | None, user_agent: str | None) -> Poll | None:
    """Read a browser's session; an approved one is consumed and its login's token family opened, in the same statement.

    None if there is no such session. Exactly one caller ever consumes a session: concurrent polls
    wait for the winner's row, find it no longer approved and read it as it was (`approved` or
    `consumed`, not consumed by them). A consumed session whose user is gone opens no family: the
    caller rolls the consumption back.
    """
    if not looks_like_session_id(session_id):
        return None
    family = token_families.opening(
        user_id=db.Sql("u.id"),
        auth_session_pk=db.Sql("c.id"),
        client_ip=client_ip,
        user_agent=user_agent,
        source="FROM consumed c JOIN users u ON u.id = c.user_id",
    )
    with conn.cursor(cursor_factory=psycopg2.extensions.cursor) as cur:
        cur.execute(
            "WITH consumed AS (UPDATE auth_sessions SET status = 'consumed', consumed_at = now()"
            " WHERE secret_hash = %s AND status = 'approved' RETURNING id, user_id, status, consumed_at),"
            f" family AS ({family.text})"
            f" SELECT {session_columns('s')}, c.id IS NOT NULL AS consumed_now, c.status AS consumed_status,"
            f" c.consumed_at AS consumed_consumed_at, NULL AS {_USER_COLUMNS_FOLLOW}, u.*,"
            f" NULL AS {_FAMILY_COLUMNS_FOLLOW}, f.*"
            " FROM auth_sessions s LEFT JOIN consumed c ON c.id = s.id"
            " LEFT JOIN users u ON u.id = c.user_id LEFT JOIN family f ON f.auth_session_id = c.id"
            " WHERE s.secret_hash = %s",
            (hash_secret(session_id), *family.params, hash_secret(session_id)),
        )
        values = cur.fetchone()
        if values is None:
            return None
        names = [column.name for column in cur.description]
    user_at, family_at = names.index(_USER_COLUMNS_FOLLOW), names.index(_FAMILY_COLUMNS_FOLLOW)
    session = dict(zip(names[:user_at], values[:user_at]))
    user = dict(zip(names[user_at + 1 : family_at], values[user_at + 1 : family_at]))
    opened = dict(zip(names[family_at + 1 :], values[family_at + 1 :]))
    consumed = session.pop("consumed_now")
    status, consumed_at = session.pop("consumed_status"), session.pop("consumed_consumed_at")
    if consumed:
        session["status"], session["consumed_at"] = status, consumed_at
        _changed(conn, session)
    return Poll(
        session,
        consumed,
        user if user["id"] is not None else None,
        opened if opened["id"] is not None else None,
    )


def record_prompt(conn, session_pk: str, chat_id: int, message_id: int, language: str) -> str | None:
    """Remember where the approval prompt was sent; return the session's status then, or None if one was already recorded.

    The update locks the row: a decision committed before it shows in that status (the caller
    closes the prompt), one after it finds the prompt recorded (and its maker edits it).
    """
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET prompt_chat_id = %s, prompt_message_id = %s, prompt_language = %s,"
            " prompt_error = NULL WHERE id = %s AND prompt_message_id IS NULL RETURNING status",
            (chat_id, message_id, language, str(session_pk)),
        )
        row = cur.fetchone()
        return row["status"] if row is not None else None


def record_prompt_error(conn, session_pk: str, error: str) -> None:
    """Remember that the prompt could not be sent, so the status answer can say so."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET prompt_error = %s WHERE id = %s AND prompt_message_id IS NULL",
            (error[:200], str(session_pk)),
        )


def withhold_prompt(conn, session_pk: str, reason: str) -> bool:
    """Mark a session's prompt as held back on purpose (`prompt_holds` reason); it is never sent later."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET prompt_withheld = %s"
            " WHERE id = %s AND prompt_message_id IS NULL AND prompt_withheld IS NULL RETURNING id",
            (reason, str(session_pk)),
        )
        return cur.fetchone() is not None


def reject_pending_for_phone(conn, phone_number: str) -> list[Row]:
    """Reject every live pending session of a phone (the person said it wasn't them, or unlinked)."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET status = 'rejected', decided_at = now()"
            " WHERE phone_number = %s AND status = 'pending' AND expires_at > now() RETURNING *",
            (phone_number,),
        )
        rows = cur.fetchall()
    status_cache.track_transitions(conn, rows)
    shared_metrics.track_outcomes(conn, rows)
    return rows


def record_login_notice(conn, session_pk: str, message_id: int) -> bool:
    """Remember the "New login" message of an approved session; False if one was already recorded."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET login_notice_message_id = %s"
            " WHERE id = %s AND login_notice_message_id IS NULL RETURNING id",
            (message_id, str(session_pk)),
        )
        return cur.fetchone() is not None


@dataclass(frozen=True)
class PromptLease:
    """A lease taken by `take_prompt_lease`; `leased_before`: some sender held this prompt's lease earlier
    (it may have delivered a message that is not recorded yet)."""

    leased_before: bool


def take_prompt_lease(conn, session_pk: str, owner: str, worker: str, seconds: float) -> PromptLease | None:
    """Lease the sending of a login's prompt to task `owner` on `worker`; None while another copy holds it.

    Free, lapsed, or already `owner`'s (a retry keeps its task id): taken in this one statement, so
    two copies racing for it have one winner. Nothing is leased once a prompt is recorded. The
    row's lease owner before the update (locked, so no copy slips in between) tells whether any
    sender ever held it: a lease given back keeps its owner.
    """
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions s SET prompt_lease_until = now() + make_interval(secs => %s),"
            " prompt_lease_owner = %s, prompt_lease_worker = %s"
            " FROM (SELECT id, prompt_lease_owner FROM auth_sessions WHERE id = %s FOR UPDATE) previous"
            " WHERE s.id = previous.id AND s.prompt_message_id IS NULL"
            " AND (s.prompt_lease_until IS NULL OR s.prompt_lease_until < now() OR s.prompt_lease_owner = %s)"
            " RETURNING previous.prompt_lease_owner IS NOT NULL AS leased_before",
            (seconds, owner, worker, str(session_pk), owner),
        )
        row = cur.fetchone()
    return PromptLease(row["leased_before"]) if row is not None else None


def release_prompt_lease(conn, session_pk: str, owner: str) -> None:
    """Give up task `owner`'s lease on a login's prompt, so another copy may send it at once."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET prompt_lease_until = NULL WHERE id = %s AND prompt_lease_owner = %s",
            (str(session_pk), owner),
        )


def release_ended_prompt_lease(conn, session_pk: str) -> None:
    """Give up the lease on a login's prompt whoever holds it (its login ended; nothing is sent any more)."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET prompt_lease_until = NULL WHERE id = %s AND status <> 'pending'",
            (str(session_pk),),
        )


def release_prompt_leases_of(conn, worker: str) -> int:
    """Free the unfinished prompt leases of a worker known to be dead on pending logins; return how many.

    An ended login keeps its lease: it marks a prompt that may have been delivered unrecorded
    (`session_recovery.unrecorded_prompts`).
    """
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET prompt_lease_until = NULL WHERE prompt_lease_worker = %s"
            " AND prompt_lease_until IS NOT NULL AND prompt_message_id IS NULL AND status = 'pending'",
            (worker,),
        )
        return cur.rowcount


def claim_prompt_close(conn, session_pk: str, owner: str, *, may_claim: bool) -> Row | None:
    """Return the decided session whose prompt task `owner` is to edit, claiming it first if allowed; else None.

    One task edits a prompt to its outcome, once overall; its retries keep the task id and find
    their claim again.
    """
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET prompt_closed_by = %s"
            " WHERE id = %s AND status <> 'pending' AND prompt_message_id IS NOT NULL"
            " AND (prompt_closed_by = %s OR (%s AND prompt_closed_by IS NULL))"
            f" RETURNING {SELECT_COLUMNS}",
            (owner, str(session_pk), owner, may_claim),
        )
        return cur.fetchone()
