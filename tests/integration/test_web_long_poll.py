"""GET /api/auth/status/{id}?wait=N: answers on the transition, at expiry, or `pending` after N s."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable

import pytest
import redis

from core import auth_sessions, db, status_cache
from tests.integration.conftest import session_row

# Far above what any answer here needs, far below the waits asked for: a poll that answers
# before this did so because of the event, not its timeout.
PROMPT_ANSWER_SECONDS = 8.0


class Poll:
    """A status request running in a thread (a browser waiting on a long poll)."""

    def __init__(self, base_url: str, session_id: str, wait: int) -> None:
        self.url = f"{base_url}/api/auth/status/{session_id}?wait={wait}"
        self.result: tuple[int, dict[str, Any]] | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(self.url, timeout=60) as response:
                self.result = (response.status, json.loads(response.read()))
        except urllib.error.HTTPError as error:
            self.result = (error.code, json.loads(error.read()))
        self.seconds = time.monotonic() - started

    def join(self, timeout: float = 40) -> tuple[int, dict[str, Any]]:
        """Wait for the answer and return (status code, body)."""
        self._thread.join(timeout)
        assert self.result is not None, "the long poll never answered"
        return self.result


def start_waiting(base_url: str, session_id: str, wait: int = 25) -> Poll:
    """Start a long poll and give it time to be waiting (a slow start only makes the test weaker)."""
    poll = Poll(base_url, session_id, wait)
    time.sleep(0.5)
    assert poll.result is None, poll.result
    return poll


def pk_of(session_id: str) -> str:
    return str(session_row(session_id)["id"])


def in_transaction(action: Callable[[Any], Any]) -> Any:
    with db.transaction() as conn:
        return action(conn)


def test_a_long_poll_answers_with_the_tokens_as_soon_as_the_login_is_approved(live_server, linked_user, start_login):
    started = start_login(linked_user["phone_number"])
    poll = start_waiting(live_server, started["session_id"])
    in_transaction(lambda conn: auth_sessions.approve(conn, pk_of(started["session_id"]), linked_user["telegram_id"]))
    status, body = poll.join()
    assert status == 200 and body["status"] == "approved" and body["tokens"]["access_token"]
    assert poll.seconds < PROMPT_ANSWER_SECONDS


@pytest.mark.parametrize(
    "transition",
    [
        pytest.param(lambda pk, user, sid: lambda conn: auth_sessions.reject(conn, pk, user["telegram_id"]), id="reject"),
        pytest.param(
            lambda pk, user, sid: lambda conn: auth_sessions.reject_pending_for_phone(conn, user["phone_number"]),
            id="it-wasnt-me",
        ),
        pytest.param(lambda pk, user, sid: lambda conn: auth_sessions.cancel(conn, sid), id="cancel"),
    ],
)
def test_a_long_poll_answers_each_ending_at_once(live_server, linked_user, start_login, transition):
    started = start_login(linked_user["phone_number"])
    poll = start_waiting(live_server, started["session_id"])
    in_transaction(transition(pk_of(started["session_id"]), linked_user, started["session_id"]))
    status, body = poll.join()
    assert status == 200 and body["status"] in ("rejected", "cancelled")
    assert poll.seconds < PROMPT_ANSWER_SECONDS


def test_a_wrong_number_ends_a_match_mode_long_poll(make_app, linked_user):
    app = make_app(approval_mode="match")
    started = app.test_client().post("/api/auth/init", json={"phone_number": linked_user["phone_number"]}).get_json()
    wrong = "10" if started["match_code"] != "10" else "11"
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        poll = start_waiting(f"http://127.0.0.1:{server.server_port}", started["session_id"])
        pk = pk_of(started["session_id"])
        in_transaction(lambda conn: auth_sessions.pick_number(conn, pk, linked_user["telegram_id"], wrong))
        assert poll.join() == (200, {"status": "rejected"})
        assert poll.seconds < PROMPT_ANSWER_SECONDS
    finally:
        server.shutdown()


def test_a_cancel_through_the_api_ends_the_long_poll(live_server, start_login):
    started = start_login("+79161234567")
    poll = start_waiting(live_server, started["session_id"])
    request = urllib.request.Request(f"{live_server}/api/auth/session/{started['session_id']}", method="DELETE")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert poll.join() == (200, {"status": "cancelled"})
    assert poll.seconds < PROMPT_ANSWER_SECONDS


def test_a_long_poll_answers_expired_at_expires_at_without_any_event(make_app, fake_queue):
    app = make_app(auth_session_ttl=3)
    started = app.test_client().post("/api/auth/init", json={"phone_number": "+79161234567"}).get_json()
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        poll = Poll(f"http://127.0.0.1:{server.server_port}", started["session_id"], 25)
        assert poll.join() == (200, {"status": "expired"})
        assert 2.0 <= poll.seconds < PROMPT_ANSWER_SECONDS
    finally:
        server.shutdown()
    assert session_row(started["session_id"])["status"] == "expired"


def test_a_long_poll_answers_pending_after_wait_seconds(live_server, start_login):
    started = start_login("+79161234567")
    status, body = Poll(live_server, started["session_id"], 2).join()
    assert status == 200 and body["status"] == "pending"
    assert set(body) == {"status", "expires_in", "poll_interval"}
    assert 280 <= body["expires_in"] <= 298


def test_a_long_poll_of_a_decided_login_answers_at_once(live_server, linked_user, start_login, decide):
    started = start_login(linked_user["phone_number"])
    decide(started["session_id"], linked_user["telegram_id"], False)
    poll = Poll(live_server, started["session_id"], 25)
    assert poll.join() == (200, {"status": "rejected"})
    assert poll.seconds < PROMPT_ANSWER_SECONDS


def test_an_unknown_id_is_a_404_at_once_even_with_wait(live_server):
    poll = Poll(live_server, "A" * 22, 25)
    status, body = poll.join()
    assert (status, body["error"]["code"]) == (404, "session_not_found")
    assert poll.seconds < PROMPT_ANSWER_SECONDS


def test_waiting_polls_hold_no_database_connection(make_app, redis_url):
    """Three polls wait on a one-connection pool while other requests still get it."""
    app = make_app(db_pool_size=1, db_pool_wait=1.0)
    client = app.test_client()
    sessions = [client.post("/api/auth/init", json={"phone_number": f"+7916123456{i}"}).get_json() for i in range(3)]
    # One of them misses the cache, so its first read (and its wait) goes through Postgres.
    redis.Redis.from_url(redis_url).delete(status_cache.key(auth_sessions.hash_secret(sessions[0]["session_id"]).hex()))
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        polls = [start_waiting(base, started["session_id"], 6) for started in sessions]
        started = client.post("/api/auth/init", json={"phone_number": "+79161234599"})
        assert started.status_code == 201, started.get_json()
        assert client.delete(f"/api/auth/session/{sessions[1]['session_id']}").status_code == 200
        assert polls[1].join() == (200, {"status": "cancelled"})
        assert [poll.join()[1]["status"] for poll in (polls[0], polls[2])] == ["pending", "pending"]
    finally:
        server.shutdown()


def test_a_waiting_poll_counts_once_against_slow_down(make_app, linked_user):
    """The default poll limits: a long poll, then the poll that follows it, are both on time."""
    app = make_app(rate_limit_poll_burst=0)
    client = app.test_client()
    started = client.post("/api/auth/init", json={"phone_number": linked_user["phone_number"]}).get_json()
    first = client.get(f"/api/auth/status/{started['session_id']}?wait=2")
    assert first.get_json()["status"] == "pending"
    assert client.get(f"/api/auth/status/{started['session_id']}").status_code == 200
