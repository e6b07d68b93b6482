"""Every Redis client of the project is built here: one factory, one set of timeouts per purpose.

redis-py's plain ConnectionPool raises "Too many connections" under load; the blocking pool
waits (bounded) for a free connection instead. Timeouts keep a dead Redis from hanging a request.
Public redis-py APIs only.

| purpose | reply / connect / pool wait | retries | used by |
| --- | --- | --- | --- |
| `DEFAULT` | 2 s / 2 s / 2 s | redis-py's default | the worker, the bot, delivery status |
| `QUICK` | 0.5 s / 0.5 s / 0.5 s | none | best-effort writes around a commit, shared metrics |
| `WEB_REQUEST` | 1 s / 1 s / 1 s | one | rate limits and the status poll's script |
| `PROBE` | 1 s / 1 s / 1 s | none | /readyz: one PING, then closed |
| `DIAGNOSIS` | 3 s / 3 s / 3 s | none | the doctor: one PING, then closed (a remote Redis may be slow to reach) |
| `SUBSCRIBER` | none / 2 s / 2 s | redis-py's default | the web's status listener (one long-lived pub/sub) |
| `ENQUEUE` | 1 s / 1 s / 1 s | none | handing a prompt to the worker (`jobs.enqueue_approval_prompt`) |
| `QUEUE_READER` | 8 s / 2 s / 2 s | redis-py's default | the worker's prompt readers: a blocking pop of up to 5 s |
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable, Generic, Hashable, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.settings import Settings, get_settings

T = TypeVar("T")

# Per process, opened only as concurrent requests need them. Too few costs CPU, not only
# latency: requests queueing for a connection wait on a lock.
MAX_CONNECTIONS = 64
HEALTH_CHECK_INTERVAL_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Purpose:
    """How long a client of one kind waits for Redis, and how often it tries again."""

    reply_timeout: float | None  # None: a subscriber blocks until a message comes
    connect_timeout: float
    pool_wait: float
    retries: int | None  # None keeps redis-py's default policy (three, with backoff)
    keepalive: bool = False


DEFAULT = Purpose(reply_timeout=2.0, connect_timeout=2.0, pool_wait=2.0, retries=None)
# A dead Redis may cost a tap or a task about half a second this way, never the default retries.
QUICK = Purpose(reply_timeout=0.5, connect_timeout=0.5, pool_wait=0.5, retries=0)
# A dead or hung Redis must cost a web request about two seconds, not hang it.
WEB_REQUEST = Purpose(reply_timeout=1.0, connect_timeout=1.0, pool_wait=1.0, retries=1)
PROBE = Purpose(reply_timeout=1.0, connect_timeout=1.0, pool_wait=1.0, retries=0)
DIAGNOSIS = Purpose(reply_timeout=3.0, connect_timeout=3.0, pool_wait=3.0, retries=0)
SUBSCRIBER = Purpose(reply_timeout=None, connect_timeout=2.0, pool_wait=2.0, retries=None, keepalive=True)
# As Celery's publish was (celeryconfig: no retry): a Redis silent for a second won't answer a second try.
ENQUEUE = Purpose(reply_timeout=1.0, connect_timeout=1.0, pool_wait=1.0, retries=0)
# Above the longest blocking pop (tasks/prompt_readers.py), so an idle queue is not a timeout.
QUEUE_READER = Purpose(reply_timeout=8.0, connect_timeout=2.0, pool_wait=2.0, retries=None, keepalive=True)


def new_pool(url: str, purpose: Purpose) -> redis.BlockingConnectionPool:
    """Build a blocking connection pool for `url` with the timeouts of `purpose`; nothing connects yet."""
    return redis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=purpose.pool_wait,
        socket_timeout=purpose.reply_timeout,
        socket_connect_timeout=purpose.connect_timeout,
        socket_keepalive=purpose.keepalive,
        health_check_interval=HEALTH_CHECK_INTERVAL_SECONDS,
        **({} if purpose.retries is None else {"retry": Retry(NoBackoff(), purpose.retries)}),
    )


def new_client(url: str, purpose: Purpose) -> redis.Redis:
    """Build a client for `url` with the timeouts of `purpose`; `close()` also closes its pool."""
    client = redis.Redis(connection_pool=new_pool(url, purpose))
    client.auto_close_connection_pool = True
    return client


class PerProcess(Generic[T]):
    """One value per key and process, built on first use and built anew in a forked child.

    A forked child must never use its parent's sockets (gunicorn workers, Celery children).
    """

    def __init__(self, build: Callable[..., T]) -> None:
        self._build = build
        self._values: dict[Hashable, tuple[int, T]] = {}
        self._lock = threading.Lock()

    def get(self, *key: Hashable) -> T:
        """Return this process's value for `key`, calling `build(*key)` when it has none yet."""
        pid = os.getpid()
        held = self._values.get(key)  # one dict read, atomic: the hot path takes no lock
        if held is not None and held[0] == pid:
            return held[1]
        # Built outside the lock: under gevent, building may switch greenlets, and a lock held
        # across a switch (a real one, if taken before monkey patching) hangs the worker.
        value = self._build(*key)
        with self._lock:
            held = self._values.get(key)
            if held is None or held[0] != pid:
                held = self._values[key] = (pid, value)
            return held[1]


_default_clients: PerProcess[redis.Redis] = PerProcess(lambda url: new_client(url, DEFAULT))
_quick_clients: PerProcess[redis.Redis] = PerProcess(lambda url: new_client(url, QUICK))
_configured: Settings | None = None


def get_redis(settings: Settings | None = None) -> redis.Redis:
    """Return this process's Redis client (created lazily, anew after a fork or a URL change)."""
    return _default_clients.get((settings or get_settings()).redis_url)


def configure(settings: Settings) -> None:
    """Make `get_quick_redis()` use these settings' REDIS_URL (db.configure calls this)."""
    global _configured
    _configured = settings


def get_quick_redis() -> redis.Redis | None:
    """Return this process's client for best-effort calls (short timeouts, no retries); None without REDIS_URL."""
    url = (_configured or get_settings()).redis_url
    if not url:
        return None
    return _quick_clients.get(url)
