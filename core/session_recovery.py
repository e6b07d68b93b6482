"""The logins whose worker tasks may have been lost with a worker (SIGKILL, OOM, lost broker data).

Celery on Redis redelivers an unacknowledged task only after `visibility_timeout` (an hour
here): far too late for a login that lives minutes. A worker that starts after a crash, or
reconnects after the broker was lost, asks this module which logins need their tasks again.
"""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]

# A bound on one sweep; pending logins are few (they live AUTH_SESSION_TTL seconds).
MAX_SESSIONS = 10_000


def pending_sessions(conn, limit: int = MAX_SESSIONS) -> list[Row]:
    """Return every pending login, oldest expiry first, and whether it still needs its prompt.

    `needs_prompt`: not overdue, its phone linked, no prompt recorded, and no final send error
    (a person who blocked the bot is not asked again until they open the deep link).
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT s.id, s.expires_at <= now() AS overdue,"
            " GREATEST(0, CEIL(EXTRACT(EPOCH FROM s.expires_at - now())))::int AS expires_in,"
            " (s.expires_at > now() AND s.prompt_message_id IS NULL AND s.prompt_error IS NULL"
            "  AND u.id IS NOT NULL) AS needs_prompt"
            " FROM auth_sessions s LEFT JOIN users u ON u.phone_number = s.phone_number"
            " WHERE s.status = 'pending' ORDER BY s.expires_at LIMIT %s",
            (limit,),
        )
        return cur.fetchall()
