"""Token families: one per successful login, with refresh-token rotation and reuse detection.

Every access and refresh token of a login carries the family id. Only the family's
`current_refresh_jti` may be spent; spending it installs a new one. Presenting an older refresh
token means it was stolen or replayed, so the whole family is revoked (OAuth 2.0 Security BCP,
RFC 9700 section 4.14.2).

A login also has an absolute lifetime (`LOGIN_MAX_AGE` from the family's start): after it no
refresh is honoured and the family is ended, so a stolen refresh token can't be kept alive
forever by refreshing it.
"""

from __future__ import annotations

import datetime
import enum
import uuid
from dataclasses import dataclass
from typing import Any

from core import db

Row = dict[str, Any]

# The revoked_reason of a family ended because the login outlived LOGIN_MAX_AGE.
LOGIN_EXPIRED = "login_expired"


class RotationOutcome(enum.Enum):
    """What presenting a refresh token did."""

    ROTATED = "rotated"
    REUSED = "reused"  # a spent token: the family is now revoked
    REVOKED = "revoked"  # the family was already revoked (logout, earlier reuse)
    UNKNOWN = "unknown"  # no such family
    EXPIRED = "expired"  # the login outlived its maximum age: the family is (now) ended


@dataclass(frozen=True)
class Rotation:
    """The outcome of `rotate` and the family row (None when unknown)."""

    outcome: RotationOutcome
    family: Row | None


def new_jti() -> str:
    """Return a fresh unique token id."""
    return uuid.uuid4().hex


def opening(*, user_id: db.Sql, auth_session_pk: db.Sql, client_ip: str | None, user_agent: str | None, source: str = "") -> db.Sql:
    """Return the INSERT that opens the family of a new login, with its first refresh token id.

    `user_id` and `auth_session_pk` may be expressions over `source` (a FROM clause), so that the
    statement that consumes a session opens its family too (`auth_sessions.poll`).
    """
    return db.Sql(
        "INSERT INTO token_families (id, user_id, auth_session_id, current_refresh_jti, client_ip, user_agent)"
        f" SELECT %s, {user_id.text}, {auth_session_pk.text}, %s, %s, %s {source} RETURNING *",
        (str(uuid.uuid4()), *user_id.params, *auth_session_pk.params, new_jti(), client_ip, user_agent),
    )


def start(
    conn,
    *,
    user_id: int,
    auth_session_pk: str | None,
    client_ip: str | None,
    user_agent: str | None,
) -> Row:
    """Open the family of a new login, with its first refresh token id."""
    insert = opening(
        user_id=db.Sql("%s", (user_id,)),
        auth_session_pk=db.Sql("%s::uuid", (auth_session_pk,)),
        client_ip=client_ip,
        user_agent=user_agent,
    )
    with conn.cursor() as cur:
        cur.execute(insert.text, insert.params)
        return cur.fetchone()


def rotate(conn, family_id: str, presented_jti: str, *, max_age_seconds: int) -> Rotation:
    """Spend a refresh token: install a new refresh id, end a login past its maximum age, or revoke on reuse."""
    if not _is_uuid(family_id):
        return Rotation(RotationOutcome.UNKNOWN, None)
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE token_families SET current_refresh_jti = %s, last_refreshed_at = now()"
            " WHERE id = %s AND current_refresh_jti = %s AND revoked_at IS NULL"
            " AND created_at > now() - make_interval(secs => %s) RETURNING *",
            (new_jti(), family_id, presented_jti, max_age_seconds),
        )
        row = cur.fetchone()
        if row is not None:
            return Rotation(RotationOutcome.ROTATED, row)
    ended = end_if_past_max_age(conn, family_id, max_age_seconds)
    if ended is not None:
        return Rotation(RotationOutcome.EXPIRED, ended)
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM token_families WHERE id = %s FOR UPDATE", (family_id,))
        row = cur.fetchone()
    if row is None:
        return Rotation(RotationOutcome.UNKNOWN, None)
    if row["revoked_at"] is not None:
        # A login that ended of old age keeps saying so, whichever of its tokens comes back.
        outcome = RotationOutcome.EXPIRED if row["revoked_reason"] == LOGIN_EXPIRED else RotationOutcome.REVOKED
        return Rotation(outcome, row)
    return Rotation(RotationOutcome.REUSED, revoke(conn, family_id, "refresh_token_reused"))


def end_if_past_max_age(conn, family_id: str, max_age_seconds: int) -> Row | None:
    """End a live login older than `max_age_seconds`; return it if this call ended it."""
    if not _is_uuid(family_id):
        return None
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE token_families SET revoked_at = now(), revoked_reason = %s"
            " WHERE id = %s AND revoked_at IS NULL AND created_at <= now() - make_interval(secs => %s) RETURNING *",
            (LOGIN_EXPIRED, family_id, max_age_seconds),
        )
        return cur.fetchone()


def login_ends_at(family: Row, max_age_seconds: int) -> datetime.datetime:
    """Return when a login stops being refreshable: its family's start plus the maximum age."""
    return family["created_at"] + datetime.timedelta(seconds=max_age_seconds)


def revoke(conn, family_id: str, reason: str) -> Row | None:
    """Revoke a family (every token of that login); revoking twice keeps the first reason."""
    if not _is_uuid(family_id):
        return None
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE token_families SET revoked_at = COALESCE(revoked_at, now()),"
            " revoked_reason = COALESCE(revoked_reason, %s) WHERE id = %s RETURNING *",
            (reason, family_id),
        )
        return cur.fetchone()


def revoke_for_user(conn, family_id: str, user_id: int, reason: str) -> Row | None:
    """Revoke one live login of this user only; None if it isn't theirs or already ended."""
    if not _is_uuid(family_id):
        return None
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE token_families SET revoked_at = now(), revoked_reason = %s"
            " WHERE id = %s AND user_id = %s AND revoked_at IS NULL RETURNING *",
            (reason, family_id, user_id),
        )
        return cur.fetchone()


def revoke_for_session(conn, session_pk: str, user_id: int, reason: str) -> Row | None:
    """Revoke the live login an auth session of this user became; None if there is none."""
    if not _is_uuid(session_pk):
        return None
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE token_families SET revoked_at = now(), revoked_reason = %s"
            " WHERE auth_session_id = %s AND user_id = %s AND revoked_at IS NULL RETURNING *",
            (reason, session_pk, user_id),
        )
        return cur.fetchone()


def is_live_for(conn, family_id: str, user_id: int) -> bool:
    """Tell whether a token may be used: its family is live and belongs to the user it names.

    Holding the signing key (a leaked one, the development one) must not turn one's own live
    login into a pass for another user: the family, not the token's `sub`, says whose it is.
    """
    if not _is_uuid(family_id):
        return False
    with conn.cursor() as cur:
        cur.execute(
            "SELECT 1 FROM token_families WHERE id = %s AND user_id = %s AND revoked_at IS NULL",
            (family_id, user_id),
        )
        return cur.fetchone() is not None


def active_for_user(conn, user_id: int) -> list[Row]:
    """Return a user's live logins, newest first."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT * FROM token_families WHERE user_id = %s AND revoked_at IS NULL ORDER BY created_at DESC",
            (user_id,),
        )
        return cur.fetchall()


def revoke_all_for_user(conn, user_id: int, reason: str) -> int:
    """Revoke every live login of a user; return how many there were."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE token_families SET revoked_at = now(), revoked_reason = %s"
            " WHERE user_id = %s AND revoked_at IS NULL",
            (reason, user_id),
        )
        return cur.rowcount


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True

