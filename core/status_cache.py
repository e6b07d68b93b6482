"""A Redis copy of which logins are pending, and a message on every transition out of pending.

The status endpoint answers a pending login from this copy alone (no Postgres); a long poll
waits for the message. Only pending sessions are cached: any other status, or a missing entry,
sends the reader to Postgres, which stays the truth. Keys and channels carry the SHA-256 of the
browser's session id (what Postgres stores too), never the id itself.

Written around commits by `core.auth_sessions`, so no caller can forget it:
- `/init` commits a session -> the entry is written (`pending`, `expires_at`), in the same
  MULTI/EXEC as the login's prompt when the caller takes it along (`take_new_entries`);
- a transition, before its commit -> the entry is deleted, so a process that dies between the
  commit and the message leaves a cache miss (Postgres answers), never a stale "pending";
- after the commit -> the entry is deleted again (in case the first delete failed) and the new
  status is published on `auth-status:<hash>` (with the commit's other Redis writes, in one
  round trip: core/after_commit_writes.py).
Every Redis call here is best effort with short timeouts: a transition never fails for Redis.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

import redis
from redis.client import Pipeline

from core import after_commit_writes, db, redis_client

log = logging.getLogger(__name__)

KEY_PREFIX = "auth-status:"
CHANNEL_PREFIX = "auth-status:"
CHANNEL_PATTERN = CHANNEL_PREFIX + "*"
# An entry outlives its session's expiry a little; a reader treats it as pending only before that.
EXTRA_TTL_MS = 60_000
PENDING = "pending"
# Fields of the entry (a Redis hash).
STATUS_FIELD = "s"
EXPIRES_FIELD = "e"


def key(secret_hash_hex: str) -> str:
    """Return the cache key of a session, from the hex SHA-256 of its browser session id."""
    return KEY_PREFIX + secret_hash_hex


def channel(secret_hash_hex: str) -> str:
    """Return the channel a session's transitions are published on."""
    return CHANNEL_PREFIX + secret_hash_hex


def hash_hex(row: dict[str, Any]) -> str:
    """Return the hex secret hash of a stored session row."""
    return bytes(row["secret_hash"]).hex()


def expires_at_ms(row: dict[str, Any]) -> int:
    """Return a session's `expires_at` as Unix milliseconds."""
    return int(row["expires_at"].timestamp() * 1000)


def track_created(conn, row: dict[str, Any]) -> None:
    """Cache a new session as pending once its transaction commits (or with the caller's own writes: `take_new_entries`)."""
    entries = db.after_commit_batch(conn, NewEntries, NewEntries)
    if entries is not None:
        entries.add(hash_hex(row), expires_at_ms(row))


class NewEntries:
    """The pending entries of one transaction's new sessions: written after its commit, unless taken along."""

    def __init__(self) -> None:
        self._entries: list[tuple[str, int]] = []
        self._taken = False

    def add(self, digest: str, expires_ms: int) -> None:
        """Cache one more new session."""
        self._entries.append((digest, expires_ms))

    def write(self, pipe: Pipeline) -> None:
        """Add the entries' commands to a MULTI/EXEC pipeline (so no entry is left without its TTL)."""
        for digest, expires_ms in self._entries:
            pipe.hset(key(digest), mapping={STATUS_FIELD: PENDING, EXPIRES_FIELD: expires_ms})
            pipe.pexpireat(key(digest), expires_ms + EXTRA_TTL_MS)

    def take(self) -> Callable[[Pipeline], None]:
        """Leave the writing to the caller: return what adds the entries' commands to its pipeline."""
        self._taken = True
        return self.write

    def send(self) -> None:
        """Write the entries after the commit, best effort, unless the caller took them along."""
        client = redis_client.get_quick_redis()
        if self._taken or not self._entries or client is None:
            return
        try:
            with client.pipeline(transaction=True) as pipe:
                self.write(pipe)
                pipe.execute()
        except redis.RedisError as exc:  # a miss only costs the poll a Postgres read
            log.warning("could not cache a new session's status: %s", type(exc).__name__)


def take_new_entries(conn) -> Callable[[Pipeline], None] | None:
    """Take this transaction's new cache entries off its after-commit writes, to send them with the caller's own.

    For a caller that talks to Redis right after the commit anyway (`/init` queues the login's
    prompt): one round trip instead of two. The caller adds the returned commands to a MULTI/EXEC
    pipeline after the commit; an entry it fails to write only costs a poll a Postgres read.
    None outside `db.transaction()`.
    """
    entries = db.after_commit_batch(conn, NewEntries, NewEntries)
    return entries.take() if entries is not None else None


# A session becomes `consumed` only from `approved`: the approval already dropped its entry and
# woke every waiting poll (whose reads then raced for the tokens), so nothing is left to tell.
NOTHING_TO_TELL = frozenset({"consumed"})


def track_transitions(conn, rows: Iterable[dict[str, Any] | None]) -> None:
    """Drop the cached status of sessions leaving `pending` before the commit; announce them after it."""
    changed = [(hash_hex(row), row["status"]) for row in rows if row is not None and row["status"] not in NOTHING_TO_TELL]
    if not changed:
        return
    db.before_commit(conn, lambda: _forget(digest for digest, _ in changed))
    # A lost message only costs a waiting poll its deadline; the next poll misses and reads Postgres.
    after_commit_writes.add(conn, "announce session transitions", lambda pipe: _announce(pipe, changed))


def _forget(digests: Iterable[str]) -> None:
    client = redis_client.get_quick_redis()
    keys = [key(digest) for digest in digests]
    if client is None or not keys:
        return
    try:
        client.delete(*keys)
    except redis.RedisError as exc:
        log.warning("could not drop cached session statuses before a commit: %s", type(exc).__name__)


def _announce(pipe: Pipeline, changed: list[tuple[str, str]]) -> None:
    pipe.delete(*(key(digest) for digest, _ in changed))
    for digest, status in changed:
        pipe.publish(channel(digest), status)
