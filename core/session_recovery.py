"""The logins whose worker tasks may have been lost with a worker (SIGKILL, OOM, lost broker data).

Celery on Redis redelivers an unacknowledged task only after `visibility_timeout` (an hour
here): far too late for a login that lives minutes. A worker that starts after a crash, or
reconnects after the broker was lost, asks this module which logins need their tasks again.
"""

from __future__ import annotations

from typing import Any

from core import prompt_targets

Row = dict[str, Any]

# A bound on one sweep; pending logins are few (they live AUTH_SESSION_TTL seconds).
MAX_SESSIONS = 10_000


def pending_sessions(conn, limit: int = MAX_SESSIONS) -> list[Row]:
    """Return every pending login, oldest expiry first, and whether the worker has its prompt to send.

    `needs_prompt` is `core.prompt_targets`' rule, so a sweep never prompts a login that the
    worker, the bot or a shared contact would not.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT s.id, s.expires_at <= now() AS overdue,"
            " GREATEST(0, CEIL(EXTRACT(EPOCH FROM s.expires_at - now())))::int AS expires_in,"
            f" {prompt_targets.needing_prompts_sql()} AS needs_prompt"
            f" FROM {prompt_targets.SESSION_AND_USER}"
            " WHERE s.status = 'pending' ORDER BY s.expires_at LIMIT %s",
            (limit,),
        )
        return cur.fetchall()
