"""/init's Redis writes: the new login's status entry and its prompt go out in one MULTI/EXEC.

These tests use the real prompt queue (not the `fake_queue` stand-in) against the test Redis.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

import jobs
import tasks
from core import auth_sessions, db, redis_client, status_cache
from tests.integration.conftest import session_row
from tests.redis_monitor import commands_sent

# Taken before any fixture replaces it with the test stand-in.
REAL_ENQUEUE = jobs.enqueue_approval_prompt


@pytest.fixture
def real_queue(redis_url: str, fake_queue: Any, monkeypatch: pytest.MonkeyPatch) -> redis.Redis:
    """Let /init queue its prompt on the test Redis for real; return a client to look at it."""
    monkeypatch.setattr(tasks, "enqueue_approval_prompt", REAL_ENQUEUE)
    monkeypatch.setattr(jobs, "enqueue_approval_prompt", REAL_ENQUEUE)
    client = redis.Redis.from_url(redis_url)
    client.delete(jobs.PROMPT_QUEUE_KEY)
    yield client
    client.delete(jobs.PROMPT_QUEUE_KEY)
    client.close()


def queued_sessions(client: redis.Redis) -> list[str]:
    """Return the session ids waiting on the prompt queue, oldest first."""
    return [json.loads(item)["session"] for item in client.lrange(jobs.PROMPT_QUEUE_KEY, 0, -1)]


def test_init_writes_the_status_entry_and_the_prompt_in_one_transaction(client, linked_user, real_queue, redis_url):
    # A first login opens the connections (their handshakes are no login's cost).
    assert client.post("/api/auth/init", json={"phone_number": "+79161234567"}).status_code == 201
    real_queue.delete(jobs.PROMPT_QUEUE_KEY)
    with commands_sent(redis_url) as seen:
        response = client.post("/api/auth/init", json={"phone_number": linked_user["phone_number"]})
    assert response.status_code == 201
    row = session_row(response.get_json()["session_id"])
    entry = status_cache.key(status_cache.hash_hex(row))

    # Whatever touched the entry or the queue came from one connection, as one MULTI/EXEC.
    touching = [c for c in seen if entry in c["command"] or jobs.PROMPT_QUEUE_KEY in c["command"]]
    senders = {(c["client_address"], c["client_port"]) for c in touching}
    assert len(senders) == 1, touching
    from_sender = [c["command"].split()[0] for c in seen if (c["client_address"], c["client_port"]) in senders]
    assert from_sender == ["MULTI", "HSET", "PEXPIREAT", "RPUSH", "EXEC"]

    assert queued_sessions(real_queue) == [str(row["id"])]
    assert real_queue.hget(entry, status_cache.STATUS_FIELD) == b"pending"
    assert 0 < real_queue.pttl(entry) <= (row["expires_in"] + 61) * 1000


def test_a_queue_refusing_the_prompt_cancels_the_login_and_answers_503(client, linked_user, real_queue):
    real_queue.set(jobs.PROMPT_QUEUE_KEY, "not a list")  # RPUSH fails inside EXEC (WRONGTYPE)

    response = client.post("/api/auth/init", json={"phone_number": linked_user["phone_number"]})

    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "service_unavailable"
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT secret_hash, status FROM auth_sessions")
        rows = cur.fetchall()
    assert [r["status"] for r in rows] == [auth_sessions.CANCELLED]
    # Written in the same transaction as the refused item, and dropped again by the cancel.
    assert not real_queue.exists(status_cache.key(status_cache.hash_hex(rows[0])))


def test_redis_unreachable_for_the_prompt_cancels_the_login_and_answers_503(
    client, linked_user, real_queue, monkeypatch
):
    # Rate limits and the cancel still reach Redis; only the prompt queue's client can't.
    unreachable = redis_client.PerProcess(lambda url: redis_client.new_client("redis://127.0.0.1:1/0", redis_client.ENQUEUE))
    monkeypatch.setattr(jobs, "_enqueue_clients", unreachable)

    response = client.post("/api/auth/init", json={"phone_number": linked_user["phone_number"]})

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT secret_hash, status FROM auth_sessions")
        rows = cur.fetchall()
    assert [r["status"] for r in rows] == [auth_sessions.CANCELLED]
    assert queued_sessions(real_queue) == []
    # Nor is a status entry left behind.
    assert not real_queue.exists(status_cache.key(status_cache.hash_hex(rows[0])))


def test_a_refused_write_taken_along_does_not_stop_the_prompt(real_queue, redis_url, caplog):
    real_queue.set("init-redis-writes:string", "x")

    def refused_write(pipe: redis.client.Pipeline) -> None:
        pipe.hset("init-redis-writes:string", "s", "pending")  # WRONGTYPE inside EXEC

    try:
        REAL_ENQUEUE("0b3a1c9e-0000-4000-8000-000000000001", redis_url, along=refused_write)
    finally:
        real_queue.delete("init-redis-writes:string")

    assert queued_sessions(real_queue) == ["0b3a1c9e-0000-4000-8000-000000000001"]
    assert "a write sent with session 0b3a1c9e-0000-4000-8000-000000000001's prompt failed" in caplog.text


def test_a_new_session_is_still_cached_after_its_commit_when_nobody_takes_its_entry(app, redis_url):
    with db.transaction() as conn:
        new = auth_sessions.create(conn, phone_number="+79161234567", user_id=None, ttl_seconds=300,
                                   approval_mode="simple",
                                   client_ip="203.0.113.7", user_agent=None)
    entry = status_cache.key(status_cache.hash_hex(new.row))
    assert redis.Redis.from_url(redis_url).hget(entry, status_cache.STATUS_FIELD) == b"pending"
