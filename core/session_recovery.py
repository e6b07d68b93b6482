"""The logins whose worker tasks may have been lost with a worker (SIGKILL, OOM, lost broker data).

Celery on Redis redelivers an unacknowledged task only after `visibility_timeout` (an hour
here): far too late for a login that lives minutes. Two sweeps ask this module for the logins
that need their tasks again: a worker that starts after its predecessor crashed (or reconnects
after losing the broker) takes every pending login, and beat, every half minute, the ones whose
work visibly stalled. Both re-enqueue idempotent tasks, so a duplicate costs nothing.
"""

from __future__ import annotations

from typing import Any

from core import prompt_delivery, prompt_targets

Row = dict[str, Any]

# A bound on one sweep; pending logins are few (they live AUTH_SESSION_TTL seconds).
MAX_SESSIONS = 10_000
# A prompt never leased this long after its login started lost its task (a fresh one is leased at once).
UNCLAIMED_PROMPT_SECONDS = 30
# An overdue login still pending this long after its expiry lost its expiry task.
UNEXPIRED_SECONDS = 30

COLUMNS = (
    "s.id, s.expires_at <= now() AS overdue,"
    " GREATEST(0, CEIL(EXTRACT(EPOCH FROM s.expires_at - now())))::int AS expires_in,"
    f" {prompt_targets.needing_prompts_sql()} AS needs_prompt"
)


def pending_sessions(conn, limit: int = MAX_SESSIONS) -> list[Row]:
    """Return every pending login, oldest expiry first, and whether the worker has its prompt to send.

    `needs_prompt` is `core.prompt_targets`' rule, so a sweep never prompts a login that the
    worker, the bot or a shared contact would not.
    """
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {COLUMNS} FROM {prompt_targets.SESSION_AND_USER}"
            " WHERE s.status = 'pending' ORDER BY s.expires_at LIMIT %s",
            (limit,),
        )
        return cur.fetchall()


def stalled_sessions(conn, limit: int = MAX_SESSIONS) -> list[Row]:
    """Return the pending logins whose work stalled: a prompt due whose lease lapsed (or that no task
    ever leased), or an expiry long overdue.

    A lapsed lease without a message id means its worker died mid-send, on this host or another.
    """
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT * FROM (SELECT {COLUMNS}, s.expires_at, s.prompt_lease_until, s.created_at"
            f" FROM {prompt_targets.SESSION_AND_USER} WHERE s.status = 'pending') pending"
            " WHERE expires_at < now() - make_interval(secs => %s)"
            " OR (needs_prompt AND (prompt_lease_until < now()"
            "     OR (prompt_lease_until IS NULL AND created_at < now() - make_interval(secs => %s))))"
            " ORDER BY expires_at LIMIT %s",
            (UNEXPIRED_SECONDS, UNCLAIMED_PROMPT_SECONDS, limit),
        )
        return cur.fetchall()


def unrecorded_prompts(conn, crashed_worker: str | None, limit: int = MAX_SESSIONS) -> list[str]:
    """Return the ended (or overdue) logins whose prompt a dead sender may have delivered without recording it.

    Their sender held the lease when it died: `crashed_worker`'s leases, or any lease that lapsed.
    Such a prompt may sit in a chat with live buttons; the send task, queued again, finds its
    delivery note and closes it (`prompt_delivery.Claim.UNRECORDED`). Only as far back as the
    notes live.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id FROM auth_sessions WHERE prompt_message_id IS NULL AND prompt_lease_until IS NOT NULL"
            " AND (status <> 'pending' OR expires_at <= now())"
            " AND (prompt_lease_until < now() OR prompt_lease_worker = %s)"
            " AND created_at > now() - make_interval(secs => %s) LIMIT %s",
            (crashed_worker, prompt_delivery.REMEMBER_SECONDS, limit),
        )
        return [str(row["id"]) for row in cur.fetchall()]
