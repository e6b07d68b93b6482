"""Which Redis URLs get the peeking connection: plain TCP only (TLS and Unix sockets keep redis-py's own)."""

from __future__ import annotations

import pytest
import redis

from core import redis_connections


def test_a_plain_tcp_url_gets_the_peeking_connection():
    options = redis_connections.connection_options("redis://cache.internal:6379/0")
    assert options == {"connection_class": redis_connections.PeekingConnection}
    pool = redis.ConnectionPool.from_url("redis://cache.internal:6379/0", **options)
    assert pool.connection_class is redis_connections.PeekingConnection


@pytest.mark.parametrize(
    ("url", "expected_class"),
    [("rediss://cache.internal:6380/0", redis.SSLConnection), ("unix:///run/redis.sock", redis.UnixDomainSocketConnection)],
)
def test_tls_and_unix_socket_urls_keep_their_own_connection_class(url, expected_class):
    options = redis_connections.connection_options(url)
    assert options == {}
    assert redis.ConnectionPool.from_url(url, **options).connection_class is expected_class
