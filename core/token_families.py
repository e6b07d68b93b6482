"""Token families: one per successful login, with refresh-token rotation and reuse detection.

Every access and refresh token of a login carries the family id. Only the family's
`current_refresh_jti` may be spent; spending it installs a new one. Presenting an older refresh
token means it was stolen or replayed, so the whole family is revoked (OAuth 2.0 Security BCP,
RFC 9700 section 4.14.2).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]


class RotationOutcome(enum.Enum):
    """What presenting a refresh token did."""

    ROTATED = "rotated"
    REUSED = "reused"  # a spent token: the family is now revoked
    REVOKED = "revoked"  # the family was already revoked (logout, earlier reuse)
    UNKNOWN = "unknown"  # no such family


@dataclass(frozen=True)
class Rotation:
    """The outcome of `rotate` and the family row (None when unknown)."""

    outcome: RotationOutcome
    family: Row | None


def new_jti() -> str:
    """Return a fresh unique token id."""
    return uuid.uuid4().hex


def start(
    conn,
    *,
    user_id: int,
    auth_session_pk: str | None,
    client_ip: str | None,
    user_agent: str | None,
) -> Row:
    """Open the family of a new login, with its first refresh token id."""
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO token_families (id, user_id, auth_session_id, current_refresh_jti, client_ip, user_agent)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
            (str(uuid.uuid4()), user_id, auth_session_pk, new_jti(), client_ip, user_agent),
        )
        return cur.fetchone()


def rotate(conn, family_id: str, presented_jti: str) -> Rotation:
    """Spend a refresh token: install a new refresh id, or revoke the family on reuse."""
    if not _is_uuid(family_id):
        return Rotation(RotationOutcome.UNKNOWN, None)
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE token_families SET current_refresh_jti = %s, last_refreshed_at = now()"
            " WHERE id = %s AND current_refresh_jti = %s AND revoked_at IS NULL RETURNING *",
            (new_jti(), family_id, presented_jti),
        )
        row = cur.fetchone()
        if row is not None:
            return Rotation(RotationOutcome.ROTATED, row)
        cur.execute("SELECT * FROM token_families WHERE id = %s FOR UPDATE", (family_id,))
        row = cur.fetchone()
    if row is None:
        return Rotation(RotationOutcome.UNKNOWN, None)
    if row["revoked_at"] is not None:
        return Rotation(RotationOutcome.REVOKED, row)
    return Rotation(RotationOutcome.REUSED, revoke(conn, family_id, "refresh_token_reused"))


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


def is_active(conn, family_id: str) -> bool:
    """Tell whether tokens of this family may still be used."""
    if not _is_uuid(family_id):
        return False
    with conn.cursor() as cur:
        cur.execute("SELECT revoked_at IS NULL AS active FROM token_families WHERE id = %s", (family_id,))
        row = cur.fetchone()
    return bool(row and row["active"])


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
