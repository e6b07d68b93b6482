"""One Redis client per process, with bounded waits, shared by the web app, the worker and the bot.

redis-py's plain ConnectionPool raises "Too many connections" under load; the blocking pool
waits (bounded) for a free connection instead. Timeouts keep a dead Redis from hanging a request.
"""

from __future__ import annotations

import os
import threading

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core import redis_connections
from core.settings import Settings, get_settings

SOCKET_TIMEOUT_SECONDS = 2.0
POOL_WAIT_SECONDS = 2.0
MAX_CONNECTIONS = 64
# Best-effort writes made around a commit (the status cache): a dead Redis may cost a tap or a
# task about half a second this way, never the default client's retries with backoff.
QUICK_TIMEOUT_SECONDS = 0.5

_client: redis.Redis | None = None
_client_key: tuple[int, str] | None = None
_lock = threading.Lock()


def get_redis(settings: Settings | None = None) -> redis.Redis:
    """Return this process's Redis client (created lazily, anew after a fork or a URL change)."""
    global _client, _client_key
    url = (settings or get_settings()).redis_url
    key = (os.getpid(), url)
    with _lock:
        if _client is not None and _client_key == key:
            return _client
    # Built outside the lock: under gevent, filling a pool's queue may switch greenlets, and a
    # lock held across a switch (a real one, if taken before monkey patching) hangs the worker.
    client = _new_client(url, POOL_WAIT_SECONDS, SOCKET_TIMEOUT_SECONDS, retries=None)
    with _lock:
        if _client is None or _client_key != key:
            _client, _client_key = client, key
        return _client


_quick: redis.Redis | None = None
_quick_key: tuple[int, str] | None = None
_configured: Settings | None = None


def configure(settings: Settings) -> None:
    """Make `get_quick_redis()` use these settings' REDIS_URL (db.configure calls this)."""
    global _configured
    _configured = settings


def get_quick_redis() -> redis.Redis | None:
    """Return this process's client for best-effort calls (short timeouts, no retries); None without REDIS_URL."""
    global _quick, _quick_key
    url = (_configured or get_settings()).redis_url
    if not url:
        return None
    key = (os.getpid(), url)
    with _lock:
        if _quick is not None and _quick_key == key:
            return _quick
    client = _new_client(url, QUICK_TIMEOUT_SECONDS, QUICK_TIMEOUT_SECONDS, retries=0)  # outside the lock: see get_redis
    with _lock:
        if _quick is None or _quick_key != key:
            _quick, _quick_key = client, key
        return _quick


def _new_client(url: str, pool_wait: float, socket_timeout: float, retries: int | None) -> redis.Redis:
    """Build a client on a blocking pool; `retries` None keeps redis-py's default retry policy."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=pool_wait,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        health_check_interval=30,
        **({} if retries is None else {"retry": Retry(NoBackoff(), retries)}),
        **redis_connections.connection_options(url),
    )
    return redis.Redis(connection_pool=pool)
