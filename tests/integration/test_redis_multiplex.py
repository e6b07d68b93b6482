"""The gevent worker's shared pipelined Redis connection, on a real server.

Multiplexing only runs under gevent's monkey-patching, which can't be undone inside pytest, so
each case runs in a patched child process, as in a gunicorn gevent worker, and prints its
findings as one JSON object.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.parse
from typing import Any

import pytest
import redis

from webapp import redis_multiplex
from devstack import PROJECT_ROOT

SCENARIOS = textwrap.dedent(
    """
    from gevent import monkey; monkey.patch_all()
    import json, socket, sys, time
    import gevent, redis
    from webapp import redis_multiplex

    case, url = sys.argv[1], sys.argv[2]
    seen = {}

    def outcome(function, *args):
        try:
            return ["ok", repr(function(*args))]
        except Exception as exc:
            return [type(exc).__name__, str(exc)]

    if case == "concurrent":
        mux = redis_multiplex.for_url(url, timeout=1.0)
        replies = {}
        def echo(n):
            replies[n] = mux.call("ECHO", f"greenlet {n}")
        gevent.joinall([gevent.spawn(echo, n) for n in range(300)], raise_error=True)
        seen["all_own_replies"] = all(replies[n] == f"greenlet {n}".encode() for n in range(300))
        seen["stats"] = mux.stats()
        # One of them gets an error reply; the others, sent in the same batch, are untouched.
        results = {}
        def either(n):
            command = ("EVALSHA", "0" * 40, 0) if n == 5 else ("INCR", "multiplex:counter")
            results[n] = outcome(mux.call, *command)
        gevent.joinall([gevent.spawn(either, n) for n in range(10)])
        seen["error_reply"] = results[5]
        seen["others"] = sorted(int(r[1]) for n, r in results.items() if n != 5)
        seen["still_in_step"] = repr(mux.call("ECHO", "after the error"))

    elif case == "closed_by_server":
        mux = redis_multiplex.for_url(url, timeout=1.0)
        client_id = mux.call("CLIENT", "ID")
        redis.Redis.from_url(url).client_kill_filter(_id=client_id)
        time.sleep(0.1)  # the reader sees the EOF while idle
        seen["after_kill"] = outcome(mux.call, "ECHO", "after a restart")
        seen["new_connection"] = mux.call("CLIENT", "ID") != client_id
        seen["channels"] = mux.stats()["channels"]

    elif case == "refused":
        mux = redis_multiplex.for_url(url, timeout=1.0)
        started = time.monotonic()
        seen["outcome"] = outcome(mux.call, "PING")
        seen["seconds"] = time.monotonic() - started

    elif case == "silent":
        # A server that accepts connections and never answers (a hung Redis: SIGSTOP).
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        mux = redis_multiplex.for_url(f"redis://127.0.0.1:{silent.getsockname()[1]}", timeout=0.4)
        outcomes = []
        started = time.monotonic()
        gevent.joinall([gevent.spawn(lambda: outcomes.append(outcome(mux.call, "PING"))) for _ in range(20)])
        seen["seconds"] = time.monotonic() - started
        seen["outcomes"] = sorted({o[0] for o in outcomes})
        seen["count"] = len(outcomes)

    elif case == "setup":
        mux = redis_multiplex.for_url(url, timeout=1.0)
        seen["set"] = outcome(mux.call, "SET", "multiplex:selected", "yes")

    print(json.dumps(seen))
    """
)


def run_case(case: str, url: str) -> dict[str, Any]:
    """Run one scenario in a gevent-patched child process and return what it saw."""
    done = subprocess.run(
        [sys.executable, "-c", SCENARIOS, case, url], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def url_with_db(url: str, db: int) -> str:
    """Return `url` pointing at database `db`."""
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path=f"/{db}", query=""))


def test_concurrent_callers_get_their_own_replies_in_few_sends(redis_url: str) -> None:
    seen = run_case("concurrent", redis_url)
    assert seen["all_own_replies"] is True
    assert seen["stats"]["commands"] == 300
    assert seen["stats"]["sends"] < 300 / 10  # batched: 300 commands of one event-loop turn
    assert seen["error_reply"][0] == "NoScriptError"  # as redis-py raises it
    assert seen["others"] == list(range(1, 10))
    assert seen["still_in_step"] == "b'after the error'"


def test_a_connection_redis_closed_costs_no_error(redis_url: str) -> None:
    seen = run_case("closed_by_server", redis_url)
    assert seen["after_kill"] == ["ok", "b'after a restart'"]
    assert seen["new_connection"] is True
    assert seen["channels"] == 2


def test_nothing_listening_fails_at_once_with_a_connection_error(redis_url: str) -> None:
    import socket

    with socket.socket() as unused:  # a port that was free a moment ago
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    seen = run_case("refused", f"redis://127.0.0.1:{port}")
    assert seen["outcome"][0] == "ConnectionError"
    assert seen["seconds"] < 1.0


def test_a_silent_server_fails_every_waiting_call_after_two_timeouts_not_a_hang(redis_url: str) -> None:
    seen = run_case("silent", redis_url)
    assert seen["count"] == 20
    assert seen["outcomes"] == ["TimeoutError"]
    # Two tries (the first channel, then a new one), each noticed within timeout + one tick.
    assert 2 * 0.4 <= seen["seconds"] < 2 * (0.4 + 0.1) + 0.5


def test_the_url_s_database_is_selected(redis_url: str) -> None:
    url = url_with_db(redis_url, 14)
    client = redis.Redis.from_url(url)
    client.delete("multiplex:selected")
    try:
        assert run_case("setup", url)["set"][0] == "ok"
        assert client.get("multiplex:selected") == b"yes"
    finally:
        client.delete("multiplex:selected")
        client.close()


def test_a_refused_setup_fails_the_call_with_a_connection_error(redis_url: str) -> None:
    parts = urllib.parse.urlsplit(redis_url)
    # The test servers have no password: AUTH is refused, and the call must say so, not hang.
    with_password = urllib.parse.urlunsplit(parts._replace(netloc=f":not-the-password@{parts.hostname}:{parts.port}"))
    seen = run_case("setup", with_password)
    assert seen["set"][0] == "ConnectionError"
    assert "setup" in seen["set"][1]


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "unix:///tmp/redis.sock", "rediss://example.com:6380"])
def test_without_gevent_nothing_is_multiplexed(url: str) -> None:
    assert redis_multiplex.for_url(url, timeout=1.0) is None
