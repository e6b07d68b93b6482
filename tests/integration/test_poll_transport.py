"""The poll path's Redis transport on a real server: pooled connections under gevent, and one bare command.

The gevent case runs in a monkey-patched child process, as in a gunicorn gevent worker: redis-py's
own checkout check must tell an idle connection, a waiting reply and a closed one apart there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest
import redis

from core import redis_client
from devstack import PROJECT_ROOT
from webapp import poll_transport

GEVENT_SCENARIO = textwrap.dedent(
    """
    from gevent import monkey; monkey.patch_all()
    import json, sys, time
    import redis
    from webapp import poll_transport

    url = sys.argv[1]
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=2, timeout=1)
    seen = {}
    connection = pool.get_connection()
    seen["gevent_socket"] = type(connection._sock).__module__
    seen["idle"] = connection.can_read()
    connection.send_command("PING")
    time.sleep(0.05)
    seen["reply_waiting"] = connection.can_read()
    seen["reply"] = str(connection.read_response())
    seen["idle_after_reading"] = connection.can_read()
    client_id = connection.send_command("CLIENT", "ID") or connection.read_response()
    redis.Redis.from_url(url).client_kill_filter(_id=client_id)
    time.sleep(0.05)
    try:
        connection.can_read()
        seen["closed_by_server"] = "not noticed"
    except redis.ConnectionError:
        seen["closed_by_server"] = "raised"
    pool.release(connection)
    # Checked out again, the closed connection is replaced by the pool: the next call works.
    seen["after_kill"] = str(poll_transport.call(pool, "PING"))
    print(json.dumps(seen))
    """
)


def test_under_gevent_the_checkout_check_tells_idle_reply_and_closed_apart(redis_url):
    done = subprocess.run(
        [sys.executable, "-c", GEVENT_SCENARIO, redis_url],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["gevent_socket"].startswith("gevent")
    assert seen["idle"] is False
    assert seen["reply_waiting"] is True
    assert seen["reply"] in ("PONG", "b'PONG'", "True")
    assert seen["idle_after_reading"] is False
    assert seen["closed_by_server"] == "raised"
    assert seen["after_kill"] in ("PONG", "b'PONG'", "True")


@pytest.fixture
def pool(redis_url):
    pool = redis.BlockingConnectionPool.from_url(redis_url, max_connections=1, timeout=1)
    yield pool
    pool.disconnect()


def test_without_gevent_the_checkout_check_tells_idle_and_reply_apart(pool):
    connection = pool.get_connection()
    try:
        assert connection.can_read() is False
        connection.send_command("PING")
        time.sleep(0.05)
        assert connection.can_read() is True
        connection.read_response()
    finally:
        pool.release(connection)


def test_call_returns_the_reply_and_gives_the_connection_back(pool):
    assert poll_transport.call(pool, "SET", "redis-connections:key", "value") in (True, b"OK", "OK")
    assert poll_transport.call(pool, "GET", "redis-connections:key") == b"value"
    # One connection in the pool: a second call could not check one out had the first kept it.
    assert poll_transport.call(pool, "DEL", "redis-connections:key") == 1


def test_a_connection_that_redis_closed_costs_no_error(pool, redis_url):
    pooled_id = poll_transport.call(pool, "CLIENT", "ID")  # the pool's only connection
    assert redis.Redis.from_url(redis_url).client_kill_filter(_id=pooled_id) == 1
    assert poll_transport.call(pool, "ECHO", "after a restart") == b"after a restart"
    assert poll_transport.call(pool, "CLIENT", "ID") != pooled_id  # retried on a new connection


def test_an_error_reply_raises_and_leaves_the_connection_usable(pool):
    with pytest.raises(redis.exceptions.NoScriptError):
        poll_transport.call(pool, "EVALSHA", "0" * 40, 0)
    assert poll_transport.call(pool, "ECHO", "still in step") == b"still in step"


def test_without_gevent_the_transport_sends_on_the_pool(redis_url):
    pool = redis_client.new_pool(redis_url, redis_client.WEB_REQUEST)
    transport = poll_transport.PollTransport(redis_url, pool, timeout=1.0)
    try:
        assert transport.execute("ECHO", "pooled") == b"pooled"
        with pytest.raises(redis.exceptions.NoScriptError):
            transport.execute("EVALSHA", "0" * 40, 0)
        assert transport.execute("CLIENT", "ID") == transport.execute("CLIENT", "ID")  # given back, taken again
    finally:
        pool.disconnect()
