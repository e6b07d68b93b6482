"""One Redis client per process, with bounded waits, shared by the web app, the worker and the bot.

redis-py's plain ConnectionPool raises "Too many connections" under load; the blocking pool
waits (bounded) for a free connection instead. Timeouts keep a dead Redis from hanging a request.
"""

from __future__ import annotations

import os
import threading

import redis

from core.settings import Settings, get_settings

SOCKET_TIMEOUT_SECONDS = 2.0
POOL_WAIT_SECONDS = 2.0
MAX_CONNECTIONS = 64

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
            )
            _client, _client_pid, _client_url = redis.Redis(connection_pool=pool), os.getpid(), url
        return _client
