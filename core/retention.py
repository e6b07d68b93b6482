"""How long the personal data of finished logins is kept, and the deletion that ends it.

What is kept, and why it is deleted rather than anonymised:

- `token_families` (a login's IP, User-Agent and user): deleted once revoked, or once its refresh
  token could no longer be spent, `RETENTION_DAYS` before now. Nothing counts these rows (the
  login metrics are counters of their own), and a missing family reads exactly like a revoked
  one (`token_families.is_live_for` is false, `rotate` answers UNKNOWN): no token comes back to life.
- `auth_sessions` (the phone number, IP and User-Agent of a login attempt): deleted once it has
  left `pending` (or its expiry passed) more than `RETENTION_DAYS` ago and no family kept above
  came from it, so a live login keeps the attempt that started it. Foreign keys agree:
  `token_families.auth_session_id` is `ON DELETE SET NULL`.
- `users` (a linked phone and Telegram account) is an account, not a finished login: kept until
  the person unlinks.

Each call deletes at most `batch_size` rows of each table, with `SKIP LOCKED`, so a big backlog
never holds long locks, and two runs at once (beat on two hosts) share the work instead of
waiting on each other. Running it again deletes nothing more: it is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

BATCH_SIZE = 1000


@dataclass(frozen=True)
class Purged:
    """How many rows one batch deleted, per table."""

    token_families: int
    auth_sessions: int

    @property
    def total(self) -> int:
        """Return the rows deleted in all."""
        return self.token_families + self.auth_sessions


def purge_batch(conn, retention_days: int, refresh_token_ttl: int, batch_size: int = BATCH_SIZE) -> Purged:
    """Delete up to `batch_size` expired families and then finished logins older than the retention period."""
    with conn.cursor() as cur:
        cur.execute(
            "DELETE FROM token_families WHERE id IN ("
            " SELECT id FROM token_families"
            " WHERE revoked_at < now() - make_interval(days => %(days)s)"
            "  OR COALESCE(last_refreshed_at, created_at)"
            "     < now() - make_interval(days => %(days)s, secs => %(refresh_ttl)s)"
            " LIMIT %(limit)s FOR UPDATE SKIP LOCKED)",
            {"days": retention_days, "refresh_ttl": refresh_token_ttl, "limit": batch_size},
        )
        families = cur.rowcount
        cur.execute(
            "DELETE FROM auth_sessions WHERE id IN ("
            " SELECT s.id FROM auth_sessions s"
            # A pending login's end is its expiry: only one overdue by the whole period matches.
            " WHERE COALESCE(s.consumed_at, s.decided_at, s.expires_at) < now() - make_interval(days => %(days)s)"
            "  AND NOT EXISTS (SELECT 1 FROM token_families f WHERE f.auth_session_id = s.id)"
            " LIMIT %(limit)s FOR UPDATE OF s SKIP LOCKED)",
            {"days": retention_days, "limit": batch_size},
        )
        sessions = cur.rowcount
    return Purged(token_families=families, auth_sessions=sessions)
