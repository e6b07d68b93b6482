"""Best-effort Redis writes that follow a commit, sent in one round trip per transaction.

A transition's commit is followed by the status cache's announcement (core/status_cache.py) and
the shared login counters (core/shared_metrics.py). Each is best effort (the quick client: short
timeouts, no retries) and would cost a round trip of its own; they add their commands to one
pipeline instead, which goes out once the transaction has committed (nothing on rollback).
"""

from __future__ import annotations

import logging
from typing import Callable

import redis
from redis.client import Pipeline

from core import db, redis_client

log = logging.getLogger(__name__)

Write = Callable[[Pipeline], None]


class RedisWrites:
    """One transaction's writes: (what they do, a function adding their commands to a pipeline)."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, Write]] = []

    def send(self) -> None:
        """Send every write in one pipeline; a failure is logged, never raised."""
        client = redis_client.get_quick_redis()
        if client is None or not self.writes:
            return
        try:
            with client.pipeline(transaction=False) as pipe:
                for _, write in self.writes:
                    write(pipe)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not %s: %s", " nor ".join(what for what, _ in self.writes), type(exc).__name__)


def add(conn, what: str, write: Write) -> None:
    """Queue `write`'s commands for the pipeline this transaction sends after its commit.

    Outside `db.transaction()` (tools and tests that commit themselves) nothing is sent, as with
    `db.after_commit`.
    """
    batch = db.after_commit_batch(conn, RedisWrites, RedisWrites)
    if batch is not None:
        batch.writes.append((what, write))
