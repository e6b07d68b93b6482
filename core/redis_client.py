"""One Redis client per process, with bounded waits, shared by the web app, the worker and the bot.

redis-py's plain ConnectionPool raises "Too many connections" under load; the blocking pool
waits (bounded) for a free connection instead. Timeouts keep a dead Redis from hanging a request.
"""

from __future__ import annotations

import os
import threading
from typing import Callable

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

# This process's clients by kind, each with the (pid, REDIS_URL) it was built for.
_clients: dict[str, tuple[tuple[int, str], redis.Redis]] = {}
_lock = threading.Lock()
_configured: Settings | None = None


def get_redis(settings: Settings | None = None) -> redis.Redis:
    """Return this process's Redis client (created lazily, anew after a fork or a URL change)."""
    url = (settings or get_settings()).redis_url
    return _shared_client("default", url, lambda: _new_client(url, POOL_WAIT_SECONDS, SOCKET_TIMEOUT_SECONDS, None))


def configure(settings: Settings) -> None:
    """Make `get_quick_redis()` use these settings' REDIS_URL (db.configure calls this)."""
    global _configured
    _configured = settings


def get_quick_redis() -> redis.Redis | None:
    """Return this process's client for best-effort calls (short timeouts, no retries); None without REDIS_URL."""
    url = (_configured or get_settings()).redis_url
    if not url:
        return None
    return _shared_client("quick", url, lambda: _new_client(url, QUICK_TIMEOUT_SECONDS, QUICK_TIMEOUT_SECONDS, 0))


def _shared_client(kind: str, url: str, build: Callable[[], redis.Redis]) -> redis.Redis:
    """Return this process's client of `kind` for `url`, built with `build()` when it has none for them yet."""
    key = (os.getpid(), url)
    with _lock:
        held = _clients.get(kind)
    if held is not None and held[0] == key:
        return held[1]
    # Built outside the lock: under gevent, filling a pool's queue may switch greenlets, and a
    # lock held across a switch (a real one, if taken before monkey patching) hangs the worker.
    client = build()
    with _lock:
        held = _clients.get(kind)
        if held is None or held[0] != key:
            held = _clients[kind] = (key, client)
        return held[1]


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
