"""The one factory of Redis clients, and the per-process values rebuilt after fork."""

from __future__ import annotations

import os

import pytest
import redis

from core import redis_client


def test_a_pool_waits_for_a_free_connection_with_the_purposes_timeouts():
    pool = redis_client.new_pool("redis://cache.internal:6379/0", redis_client.WEB_REQUEST)
    assert isinstance(pool, redis.BlockingConnectionPool)
    assert pool.timeout == redis_client.WEB_REQUEST.pool_wait
    assert pool.max_connections == redis_client.MAX_CONNECTIONS
    options = pool.connection_kwargs
    assert options["socket_timeout"] == redis_client.WEB_REQUEST.reply_timeout
    assert options["socket_connect_timeout"] == redis_client.WEB_REQUEST.connect_timeout
    assert options["retry"].get_retries() == redis_client.WEB_REQUEST.retries


def test_a_subscriber_blocks_for_its_messages_and_keeps_its_connection_alive():
    options = redis_client.new_pool("redis://cache.internal:6379/0", redis_client.SUBSCRIBER).connection_kwargs
    assert options["socket_timeout"] is None
    assert options["socket_keepalive"] is True


def test_a_client_closes_its_own_pool():
    assert redis_client.new_client("redis://cache.internal:6379/0", redis_client.PROBE).auto_close_connection_pool


@pytest.mark.parametrize(
    ("url", "expected_class"),
    [
        ("redis://cache.internal:6379/0", redis.Connection),
        ("rediss://cache.internal:6380/0", redis.SSLConnection),
        ("unix:///run/redis.sock", redis.UnixDomainSocketConnection),
    ],
)
def test_tls_and_unix_socket_urls_keep_their_own_connection_class(url, expected_class):
    assert redis_client.new_pool(url, redis_client.DEFAULT).connection_class is expected_class


def test_a_per_process_value_is_built_once_per_key():
    built: list[str] = []
    values = redis_client.PerProcess(lambda url: built.append(url) or object())
    first = values.get("redis://a")
    assert values.get("redis://a") is first
    assert values.get("redis://b") is not first
    assert built == ["redis://a", "redis://b"]


def test_a_forked_child_builds_its_own_value():
    values = redis_client.PerProcess(lambda: os.getpid())
    assert values.get() == os.getpid()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child reports what it got, then leaves without pytest's cleanup
        os.write(write, str(values.get()).encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    assert status == 0
    assert int(os.read(read, 64)) == child
    os.close(read)
