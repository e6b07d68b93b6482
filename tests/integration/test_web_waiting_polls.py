"""Waiting long polls are capped per client address (IPv6 by /64) and per session, across processes."""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any, Callable, Iterator

import pytest
import redis
from flask import Flask
from werkzeug.serving import make_server

from core import auth_sessions, db
from tests import factories
from webapp import waiting_polls

# A refused poll answers at once; a poll that was let in waits at least its `wait` (1 s here).
AT_ONCE_SECONDS = 0.8


class Poll:
    """A `?wait=` status request from one client address, running in a thread."""

    def __init__(self, base_url: str, session_id: str, address: str, wait: int = 25) -> None:
        self.base_url = base_url
        self.path = f"/api/auth/status/{session_id}?wait={wait}"
        self.address = address
        self.result: tuple[int, dict[str, Any], dict[str, str]] | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started = time.monotonic()
        host, port = self.base_url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            conn.request("GET", self.path, headers={"X-Forwarded-For": self.address})
            response = conn.getresponse()
            self.result = (response.status, json.loads(response.read()), dict(response.headers))
        finally:
            conn.close()
        self.seconds = time.monotonic() - started

    def join(self, timeout: float = 40) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Wait for the answer and return (status code, body, headers)."""
        self._thread.join(timeout)
        assert self.result is not None, "the poll never answered"
        return self.result


@pytest.fixture
def proxied_server(make_app: Callable[..., Flask], redis_url: str) -> Iterator[Callable[..., str]]:
    """Return a function serving a test app behind one trusted proxy (X-Forwarded-For names the client)."""
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("waiting-polls:*"):
        client.delete(key)
    servers = []

    def serve(**overrides: Any) -> str:
        server = make_server("127.0.0.1", 0, make_app(trusted_proxy_count=1, **overrides), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server in servers:
        server.shutdown()
    client.close()


def new_sessions(count: int) -> list[str]:
    """Start `count` pending logins; return their browser session ids."""
    with db.transaction() as conn:
        return [factories.make_session(conn).session_id for _ in range(count)]


def slots_held(redis_url: str, client_key: str) -> int:
    """Return how many waiting-poll slots a client address key holds in Redis."""
    client = redis.Redis.from_url(redis_url)
    try:
        return client.zcard(waiting_polls.address_key(client_key))
    finally:
        client.close()


def wait_until(condition: Callable[[], bool], timeout: float = 15, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def cancel_all(session_ids: list[str]) -> None:
    with db.transaction() as conn:
        for session_id in session_ids:
            auth_sessions.cancel(conn, session_id)


def start_polls(base_url: str, session_ids: list[str], address: str, count: int) -> list[Poll]:
    """Start `count` waiting polls from one address, at most three per session."""
    return [Poll(base_url, session_ids[i // waiting_polls.MAX_WAITING_POLLS_PER_SESSION], address) for i in range(count)]


def test_the_51st_waiting_poll_from_one_address_is_refused_at_once_and_other_addresses_still_wait(
    proxied_server, redis_url
):
    base_url = proxied_server()
    session_ids = new_sessions(20)
    polls = start_polls(base_url, session_ids, "203.0.113.7", 50)
    wait_until(lambda: slots_held(redis_url, "203.0.113.7") == 50, what="50 waiting polls")

    refused = Poll(base_url, new_sessions(1)[0], "203.0.113.7", wait=1)
    elsewhere = Poll(base_url, session_ids[-1], "198.51.100.9", wait=1)

    status, body, headers = refused.join()
    assert (status, body["error"]["code"]) == (429, "rate_limited")
    assert int(headers["Retry-After"]) >= 1
    assert refused.seconds < AT_ONCE_SECONDS
    status, body, _ = elsewhere.join()
    assert (status, body["status"]) == (200, "pending")
    assert elsewhere.seconds >= 1

    cancel_all(session_ids)
    assert all(poll.join()[:2] == (200, {"status": "cancelled"}) for poll in polls)
    # Every slot came back with the answers: the address may wait again.
    wait_until(lambda: slots_held(redis_url, "203.0.113.7") == 0, what="the slots to be released")
    status, body, _ = Poll(base_url, new_sessions(1)[0], "203.0.113.7", wait=1).join()
    assert (status, body["status"]) == (200, "pending")


def test_two_ipv6_addresses_of_one_64_share_a_count_and_another_64_has_its_own(proxied_server, redis_url):
    base_url = proxied_server(max_waiting_polls_per_client=2)
    session_ids = new_sessions(5)
    holding = [
        Poll(base_url, session_ids[0], "2001:db8:1:2::1"),
        Poll(base_url, session_ids[1], "2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
    ]
    wait_until(lambda: slots_held(redis_url, "2001:db8:1:2::/64") == 2, what="two waiting polls")

    same_64 = Poll(base_url, session_ids[2], "2001:db8:1:2:ffff::3", wait=1)
    other_64 = Poll(base_url, session_ids[3], "2001:db8:1:3::1", wait=1)

    status, body, _ = same_64.join()
    assert (status, body["error"]["code"]) == (429, "rate_limited") and same_64.seconds < AT_ONCE_SECONDS
    assert other_64.join()[0] == 200 and other_64.seconds >= 1
    cancel_all(session_ids)
    assert [poll.join()[0] for poll in holding] == [200, 200]


def test_one_session_holds_at_most_three_waiting_polls(proxied_server, redis_url):
    base_url = proxied_server()
    [session_id] = new_sessions(1)
    holding = [Poll(base_url, session_id, "203.0.113.8") for _ in range(waiting_polls.MAX_WAITING_POLLS_PER_SESSION)]
    wait_until(lambda: slots_held(redis_url, "203.0.113.8") == 3, what="three waiting polls")

    fourth = Poll(base_url, session_id, "203.0.113.9", wait=1)  # even from another address

    status, body, headers = fourth.join()
    assert (status, body["error"]["code"]) == (429, "slow_down") and "Retry-After" in headers
    assert fourth.seconds < AT_ONCE_SECONDS
    cancel_all([session_id])
    assert [poll.join()[1] for poll in holding] == [{"status": "cancelled"}] * 3


def test_slots_come_back_after_timeouts_errors_and_clients_that_left(proxied_server, redis_url):
    base_url = proxied_server(max_waiting_polls_per_client=2)
    session_ids = new_sessions(2)

    # Timeouts: each poll answers `pending` after its wait, so the next ones are let in.
    for _ in range(3):
        polls = [Poll(base_url, session_id, "203.0.113.10", wait=1) for session_id in session_ids]
        assert [poll.join()[0] for poll in polls] == [200, 200]
    # Errors: polls of unknown ids answer 404 and take nothing with them.
    for _ in range(5):
        assert Poll(base_url, "no-such-session", "203.0.113.10", wait=5).join()[0] == 404
    # A client that hangs up: its poll still waits out its `wait`, then gives its slot back.
    host, port = base_url.removeprefix("http://").split(":")
    gone = http.client.HTTPConnection(host, int(port), timeout=5)
    gone.request("GET", f"/api/auth/status/{session_ids[0]}?wait=2", headers={"X-Forwarded-For": "203.0.113.10"})
    wait_until(lambda: slots_held(redis_url, "203.0.113.10") == 1, what="the poll to wait")
    gone.close()
    wait_until(lambda: slots_held(redis_url, "203.0.113.10") == 0, timeout=10, what="the slot to come back")


def test_a_slot_whose_process_died_ends_with_its_lease(proxied_server, make_app, redis_url, monkeypatch):
    base_url = proxied_server(max_waiting_polls_per_client=1)
    [session_id] = new_sessions(1)
    monkeypatch.setattr(waiting_polls, "SLOT_LEASE_SECONDS", 1)
    app = make_app(trusted_proxy_count=1, max_waiting_polls_per_client=1)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.11"}):
        # Taken and never given back, as by a worker killed mid-wait.
        waiting_polls.slot(session_id).__enter__()
    refused = Poll(base_url, session_id, "203.0.113.11", wait=1).join()
    assert (refused[0], refused[1]["error"]["code"]) == (429, "rate_limited")

    time.sleep(1.1)

    assert Poll(base_url, session_id, "203.0.113.11", wait=1).join()[0] == 200
