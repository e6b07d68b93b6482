"""The status endpoint's hot path: a pending poll costs no Postgres transaction and one Redis command."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import pytest
import redis

from core import auth_sessions, db, status_cache

POLLS = 20
# INFO commandstats also counts the commands a script runs: one of each per poll, inside its EVALSHA.
SCRIPT_COMMANDS = ("time", "get", "set", "hmget", "exists")


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count every `db.transaction()` the app opens from now on."""
    opened: list[int] = []
    real = db.transaction

    @contextlib.contextmanager
    def counting(**options: Any) -> Iterator[Any]:
        opened.append(1)
        with real(**options) as conn:
            yield conn

    monkeypatch.setattr(db, "transaction", counting)
    return opened


def redis_calls(client: redis.Redis) -> dict[str, int]:
    """Return Redis's per-command call counters (INFO commandstats), without INFO's own."""
    stats = client.info("commandstats")
    return {name: entry["calls"] for name, entry in stats.items() if name != "cmdstat_info"}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}


def test_pending_polls_touch_no_postgres_and_redis_once_each(client, start_login, redis_url, transactions):
    started = start_login("+79161234567")
    url = f"/api/auth/status/{started['session_id']}"
    assert client.get(url).get_json()["status"] == "pending"  # loads the script once
    watcher = redis.Redis.from_url(redis_url)
    before_redis, before_db = redis_calls(watcher), len(transactions)

    for _ in range(POLLS):
        response = client.get(url)
        assert response.status_code == 200
        assert response.get_json()["status"] == "pending"

    assert len(transactions) == before_db
    expected = {"cmdstat_evalsha": POLLS, **{f"cmdstat_{name}": POLLS for name in SCRIPT_COMMANDS}}
    assert delta(before_redis, redis_calls(watcher)) == expected


def test_a_decided_login_is_read_from_postgres(client, linked_user, start_login, decide, transactions):
    started = start_login(linked_user["phone_number"])
    decide(started["session_id"], linked_user["telegram_id"], False)
    before = len(transactions)
    assert client.get(f"/api/auth/status/{started['session_id']}").get_json() == {"status": "rejected"}
    assert len(transactions) == before + 1


def test_a_cache_miss_falls_back_to_postgres_with_the_same_answer(client, start_login, redis_url, transactions):
    started = start_login("+79161234567")
    digest = auth_sessions.hash_secret(started["session_id"]).hex()
    redis.Redis.from_url(redis_url).delete(status_cache.key(digest))
    before = len(transactions)
    body = client.get(f"/api/auth/status/{started['session_id']}").get_json()
    assert body["status"] == "pending" and 298 <= body["expires_in"] <= 300
    assert len(transactions) == before + 1


def test_every_transition_drops_the_cached_pending_status(client, linked_user, start_login, redis_url):
    watcher = redis.Redis.from_url(redis_url)
    started = start_login(linked_user["phone_number"])
    key = status_cache.key(auth_sessions.hash_secret(started["session_id"]).hex())
    assert watcher.hget(key, status_cache.STATUS_FIELD) == b"pending"
    channel = watcher.pubsub()
    channel.subscribe(status_cache.channel(auth_sessions.hash_secret(started["session_id"]).hex()))
    assert channel.get_message(timeout=2)["type"] == "subscribe"

    at_commit: list[int] = []
    with db.transaction() as conn:
        pk = str(auth_sessions.find_by_session_id(conn, started["session_id"])["id"])
        assert auth_sessions.approve(conn, pk, linked_user["telegram_id"]) is not None
        db.before_commit(conn, lambda: at_commit.append(watcher.exists(key)))
    # Gone before the commit: a crash between the commit and the message leaves a miss, never a stale "pending".
    assert at_commit == [0]
    message = channel.get_message(timeout=2)
    assert (message["type"], message["data"]) == ("message", b"approved")
    assert not watcher.exists(key)


def test_a_rolled_back_transition_announces_nothing(client, linked_user, start_login, redis_url):
    watcher = redis.Redis.from_url(redis_url)
    started = start_login(linked_user["phone_number"])
    digest = auth_sessions.hash_secret(started["session_id"]).hex()
    channel = watcher.pubsub()
    channel.subscribe(status_cache.channel(digest))
    channel.get_message(timeout=2)
    with pytest.raises(RuntimeError), db.transaction() as conn:
        auth_sessions.cancel(conn, started["session_id"])
        raise RuntimeError("the caller gave up")
    assert channel.get_message(timeout=1) is None
    assert client.get(f"/api/auth/status/{started['session_id']}").get_json()["status"] == "pending"


def test_a_transitions_redis_follow_ups_go_out_in_one_round_trip(linked_user, start_login, redis_url, monkeypatch):
    # The status cache's announcement and the shared login counters: one pipeline after the commit.
    started = start_login(linked_user["phone_number"])
    digest = auth_sessions.hash_secret(started["session_id"]).hex()
    channel = redis.Redis.from_url(redis_url).pubsub()
    channel.subscribe(status_cache.channel(digest))
    channel.get_message(timeout=2)
    sent: list[list[str]] = []
    real_execute = redis.client.Pipeline.execute

    def counting_execute(self, *args, **kwargs):
        sent.append([str(command[0]).upper() for command, _ in self.command_stack])
        return real_execute(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counting_execute)
    with db.transaction() as conn:
        pk = str(auth_sessions.find_by_session_id(conn, started["session_id"])["id"])
        assert auth_sessions.approve(conn, pk, linked_user["telegram_id"]) is not None
        assert sent == []  # nothing of it before the commit

    assert len(sent) == 1 and {"DEL", "PUBLISH", "HINCRBY"} <= set(sent[0])
    assert channel.get_message(timeout=2)["data"] == b"approved"


def test_handing_out_the_tokens_writes_nothing_to_redis(client, linked_user, start_login, decide, redis_url):
    # The approval already dropped the cached status and woke the waiting polls: consuming has nothing to tell.
    started = start_login(linked_user["phone_number"])
    decide(started["session_id"], linked_user["telegram_id"], True)
    watcher = redis.Redis.from_url(redis_url)
    before = redis_calls(watcher)
    body = client.get(f"/api/auth/status/{started['session_id']}").get_json()
    assert body["status"] == "approved" and body["tokens"]["access_token"]
    assert set(delta(before, redis_calls(watcher))) == {"cmdstat_evalsha", *(f"cmdstat_{n}" for n in SCRIPT_COMMANDS)}
