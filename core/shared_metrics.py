"""Counters kept in Redis, so the web app's /metrics counts what the bot and the worker did too.

Logins are decided in three kinds of processes (taps in the bot, expiry in the worker, cancels in
the web app), each run many times and restarted at will; one Redis hash per metric sums them all
and survives restarts, as a Prometheus counter should. Every write is best effort (short
timeouts, after the commit): a dead Redis costs a count, never a login.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Iterable

import redis
from redis.client import Pipeline

from core import after_commit_writes, redis_client

log = logging.getLogger(__name__)

OUTCOMES = ("approved", "rejected", "expired", "cancelled")
LOGINS_KEY = "metrics:auth_logins_total"
APPROVAL_KEY = "metrics:auth_approval_seconds"
COUNTERS_KEY = "metrics:counters"
# Seconds from /init to the tap; a login lives AUTH_SESSION_TTL (300 s by default).
APPROVAL_BUCKETS = (2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, math.inf)
SUM_FIELD = "sum"
COUNT_FIELD = "count"
PROMPT_SEND_FAILURES = "telegram_prompt_send_failures_total"
TELEGRAM_RETRIES = "telegram_retries_total"


def bucket_label(bound: float) -> str:
    """Return Prometheus's `le` label for a bucket bound."""
    return "+Inf" if math.isinf(bound) else repr(bound)


def track_outcomes(conn, rows: Iterable[dict[str, Any] | None]) -> None:
    """Count the sessions of these transition rows by outcome once the transaction commits."""
    outcomes = [_outcome(row) for row in rows if row is not None and row["status"] in OUTCOMES]
    if outcomes:
        after_commit_writes.add(conn, "count login outcomes", lambda pipe: _record(pipe, outcomes))


def count(name: str, amount: int = 1) -> None:
    """Add to a label-free shared counter (e.g. PROMPT_SEND_FAILURES), best effort."""
    client = redis_client.get_quick_redis()
    if client is None:
        return
    try:
        client.hincrby(COUNTERS_KEY, name, amount)
    except redis.RedisError as exc:
        log.warning("could not count %s: %s", name, type(exc).__name__)


def read(client: redis.Redis) -> dict[str, dict[str, float]]:
    """Return every shared metric's hash as {key: {field: value}} in one round trip."""
    with client.pipeline(transaction=False) as pipe:
        for key in (LOGINS_KEY, APPROVAL_KEY, COUNTERS_KEY):
            pipe.hgetall(key)
        results = pipe.execute()
    return {
        key: {field.decode(): float(value) for field, value in result.items()}
        for key, result in zip((LOGINS_KEY, APPROVAL_KEY, COUNTERS_KEY), results)
    }


def _outcome(row: dict[str, Any]) -> tuple[str, float | None]:
    seconds = None
    if row["status"] == "approved" and row.get("decided_at") and row.get("created_at"):
        seconds = max(0.0, (row["decided_at"] - row["created_at"]).total_seconds())
    return row["status"], seconds


def _record(pipe: Pipeline, outcomes: list[tuple[str, float | None]]) -> None:
    for status, seconds in outcomes:
        pipe.hincrby(LOGINS_KEY, status, 1)
        if seconds is not None:
            # Each observation lands in its smallest bucket; the reader makes them cumulative.
            bound = next(b for b in APPROVAL_BUCKETS if seconds <= b)
            pipe.hincrby(APPROVAL_KEY, bucket_label(bound), 1)
            pipe.hincrbyfloat(APPROVAL_KEY, SUM_FIELD, seconds)
            pipe.hincrby(APPROVAL_KEY, COUNT_FIELD, 1)
