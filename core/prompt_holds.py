"""Holds on approval prompts: a pause the person asked for, and a cooldown after a wrong number.

While a hold is on, the worker sends that person no new prompt (it marks the session's prompt
as withheld instead), so push bombing gets nothing through and a guessed number can't be
retried at once. Holds are judged by the database clock, like session expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

Row = dict[str, Any]

PAUSED = "paused"  # "It wasn't me": the person paused prompts to their phone
COOLDOWN = "cooldown"  # a wrong number was picked in number matching


@dataclass(frozen=True)
class Hold:
    """A hold in force: why, and until when."""

    reason: str
    until: datetime


# The column of each hold; names come from this table only, never from input.
HOLD_COLUMNS = {PAUSED: "prompts_paused_until", COOLDOWN: "match_cooldown_until"}


def _extend_hold(conn, reason: str, user_id: int, seconds: int) -> datetime | None:
    """Hold a user's prompts for `seconds` from now, never shortening a longer hold; return the end."""
    column = HOLD_COLUMNS[reason]
    with conn.cursor() as cur:
        cur.execute(
            f"UPDATE users SET {column} = GREATEST({column}, now() + make_interval(secs => %s))"
            f" WHERE id = %s RETURNING {column} AS until",
            (seconds, user_id),
        )
        row = cur.fetchone()
    return row["until"] if row else None


def pause(conn, user_id: int, seconds: int) -> datetime | None:
    """Pause prompts to a user for `seconds` (never shortening a longer pause); return the end."""
    return _extend_hold(conn, PAUSED, user_id, seconds)


def resume(conn, user_id: int) -> bool:
    """Lift a user's pause now (a wrong-number cooldown stays); False if none was in force."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE users SET prompts_paused_until = NULL WHERE id = %s AND prompts_paused_until > now() RETURNING id",
            (user_id,),
        )
        return cur.fetchone() is not None


def start_cooldown(conn, user_id: int, seconds: int) -> datetime | None:
    """Hold prompts to a user for `seconds` after a wrong number; return the end."""
    return _extend_hold(conn, COOLDOWN, user_id, seconds)


def current(conn, user_id: int) -> Hold | None:
    """Return the hold on a user's prompts now (a pause before a cooldown), or None."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT CASE WHEN prompts_paused_until > now() THEN prompts_paused_until END AS paused_until,"
            " CASE WHEN match_cooldown_until > now() THEN match_cooldown_until END AS cooldown_until"
            " FROM users WHERE id = %s",
            (user_id,),
        )
        row = cur.fetchone()
    if row is None:
        return None
    if row["paused_until"] is not None:
        return Hold(PAUSED, row["paused_until"])
    if row["cooldown_until"] is not None:
        return Hold(COOLDOWN, row["cooldown_until"])
    return None
