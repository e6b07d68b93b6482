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
_client_pid: int | None = None
_client_url: str | None = None
_lock = threading.Lock()


def get_redis(settings: Settings | None = None) -> redis.Redis:
    """Return this process's Redis client (created lazily, anew after a fork or a URL change)."""
    global _client, _client_pid, _client_url
    url = (settings or get_settings()).redis_url
    with _lock:
        if _client is None or _client_pid != os.getpid() or _client_url != url:
            pool = redis.BlockingConnectionPool.from_url(
                url,
                max_connections=MAX_CONNECTIONS,
                timeout=POOL_WAIT_SECONDS,
                socket_timeout=SOCKET_TIMEOUT_SECONDS,
                socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
                health_check_interval=30,
                **redis_connections.connection_options(url),
            )
            _client, _client_pid, _client_url = redis.Redis(connection_pool=pool), os.getpid(), url
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
    with _lock:
        if _quick is None or _quick_key != (os.getpid(), url):
            pool = redis.BlockingConnectionPool.from_url(
                url,
                max_connections=MAX_CONNECTIONS,
                timeout=QUICK_TIMEOUT_SECONDS,
                socket_timeout=QUICK_TIMEOUT_SECONDS,
                socket_connect_timeout=QUICK_TIMEOUT_SECONDS,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=30,
                **redis_connections.connection_options(url),
            )
            _quick, _quick_key = redis.Redis(connection_pool=pool), (os.getpid(), url)
        return _quick
