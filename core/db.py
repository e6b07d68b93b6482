"""Postgres access: one lazily created connection pool per process and a transaction helper.

Data-access functions elsewhere in `core` take a connection first and never commit; the caller
owns the transaction through `with db.transaction() as conn:`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterator, Protocol, TypeVar

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import psycopg2.pool

from core import redis_client
from core.errors import ServiceUnavailable
from core.settings import Settings, get_settings


class Batch(Protocol):
    """Follow-ups of one transaction, gathered and sent together after its commit."""

    def send(self) -> None:
        """Send what was gathered (best effort: must not raise)."""


B = TypeVar("B", bound=Batch)

log = logging.getLogger(__name__)

# Errors after which a pooled connection can't be trusted (server restarted, network cut).
BROKEN_CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)


class Pool:
    """A fixed-size pool that waits (bounded) for a free connection instead of failing at once.

    psycopg2's ThreadedConnectionPool closes every connection above `minconn` on return and raises
    immediately when empty; so minconn == maxconn here, and a semaphore makes callers queue.
    """

    def __init__(self, dsn: str, size: int, wait_seconds: float, connect_timeout: int) -> None:
        self._dsn = dsn
        self._size = size
        self._wait_seconds = wait_seconds
        self._connect_timeout = connect_timeout
        self._slots = threading.BoundedSemaphore(size)
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._lock = threading.Lock()

    def _inner(self) -> psycopg2.pool.ThreadedConnectionPool:
        with self._lock:
            if self._pool is None:
                # minconn=0 so a pool can be created while Postgres is down; connections are
                # then opened on demand and kept, because minconn only matters on putconn
                # when the pool holds more than minconn idle ones: we set it to the size.
                pool = psycopg2.pool.ThreadedConnectionPool(
                    0,
                    self._size,
                    self._dsn,
                    connect_timeout=self._connect_timeout,
                    cursor_factory=psycopg2.extras.RealDictCursor,
                    application_name=os.environ.get("DB_APPLICATION_NAME", "dance-of-mind"),
                )
                pool.minconn = self._size
                self._pool = pool
            return self._pool

    def acquire(self) -> psycopg2.extensions.connection:
        """Take a connection, waiting at most `wait_seconds` for a free one."""
        if not self._slots.acquire(timeout=self._wait_seconds):
            raise ServiceUnavailable("postgres", "no free database connection")
        try:
            return self._live_connection()
        except BROKEN_CONNECTION_ERRORS as exc:
            self._slots.release()
            raise ServiceUnavailable("postgres", str(exc).strip()) from exc
        except BaseException:
            self._slots.release()
            raise

    def _live_connection(self) -> psycopg2.extensions.connection:
        """Return a pooled connection, closing the ones the server has hung up on meanwhile."""
        inner = self._inner()
        # At most `size` idle connections can be stale; the next getconn() then opens a new one.
        for _ in range(self._size):
            conn = inner.getconn()
            if not server_hung_up(conn):
                return conn
            inner.putconn(conn, close=True)
        return inner.getconn()

    def release(self, conn: psycopg2.extensions.connection, broken: bool) -> None:
        """Give a connection back; a broken one is closed so the next caller gets a fresh one."""
        try:
            self._inner().putconn(conn, close=broken or conn.closed != 0)
        finally:
            self._slots.release()

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None


def server_hung_up(conn: psycopg2.extensions.connection) -> bool:
    """Tell, without a round trip, whether an idle connection was closed by the server.

    A restarted or stopped Postgres ends every session ("terminating connection due to
    administrator command") and closes the socket, so an idle connection's socket turns readable;
    ours never has anything to read between queries (we don't LISTEN; a rare asynchronous notice
    only costs a reconnect). Without this check each stale pooled connection costs a request a
    503, or a task its run, after Postgres is back; a server gone without closing its sockets is
    still caught by the first query (and that connection discarded).
    """
    if conn.closed:
        return True
    # poll(), not select(): select() refuses descriptors above 1023.
    poller = select.poll()
    try:
        poller.register(conn.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


@dataclass(frozen=True)
class Sql:
    """A piece of SQL and its parameters, for one statement that rules of several modules make up together."""

    text: str
    params: tuple[Any, ...] = ()


# Callbacks of the transactions in progress, by connection: (before commit, after commit).
# Keyed by id(conn), because psycopg2 connections take no attributes; `transaction()` owns the entry.
_hooks: dict[int, tuple[list[Callable[[], None]], list[Callable[[], None]]]] = {}
# Per transaction too: the batches of `after_commit_batch`, by key.
_batches: dict[int, dict[Hashable, Any]] = {}

_pool: Pool | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def configure(settings: Settings | None = None) -> Pool:
    """Create (or recreate) this process's pool from the settings."""
    global _pool, _pool_pid
    settings = settings or get_settings()
    # The status cache is written around commits (core/status_cache.py): same settings, same Redis.
    redis_client.configure(settings)
    with _pool_lock:
        if _pool is not None and _pool_pid == os.getpid():
            _pool.close()
        _pool = Pool(settings.database_url, settings.db_pool_size, settings.db_pool_wait, settings.db_connect_timeout)
        _pool_pid = os.getpid()
        return _pool


def get_pool() -> Pool:
    """Return this process's pool, creating it lazily (and anew after a fork)."""
    if _pool is None or _pool_pid != os.getpid():
        # A pool inherited across fork shares sockets with the parent: never reuse it.
        return configure()
    return _pool


@contextlib.contextmanager
def transaction(*, one_statement: bool = False) -> Iterator[psycopg2.extensions.connection]:
    """Run the block in one transaction: commit on success, roll back on any exception.

    A broken connection (Postgres restarted or unreachable) becomes `ServiceUnavailable`, and
    the connection is discarded rather than returned to the pool.

    `one_statement=True` is for a block that sends a single `execute` (one statement, or several
    joined by `;`): Postgres runs that as one implicit transaction, all or nothing, so the BEGIN
    and COMMIT round trips are left out. It is committed when `execute` returns, so such a block
    may not register `before_commit` hooks; `after_commit` ones run as usual.
    """
    pool = get_pool()
    conn = pool.acquire()
    broken = False
    before, after = _hooks[id(conn)] = ([], [])
    _batches[id(conn)] = {}
    try:
        if one_statement:
            conn.autocommit = True
        yield conn
        for hook in before:
            hook()
        conn.commit()
    except BROKEN_CONNECTION_ERRORS as exc:
        broken = True
        with contextlib.suppress(Exception):
            conn.rollback()
        raise ServiceUnavailable("postgres", str(exc).strip()) from exc
    except BaseException:
        with contextlib.suppress(Exception):
            conn.rollback()
        raise
    finally:
        _hooks.pop(id(conn), None)
        _batches.pop(id(conn), None)
        if conn.autocommit:
            try:
                conn.autocommit = False  # client-side only: no round trip
            except psycopg2.Error:
                broken = True
        pool.release(conn, broken)
    # After the connection went back: a callback (Redis, say) must not hold a Postgres connection.
    for hook in after:
        hook()


def before_commit(conn: psycopg2.extensions.connection, hook: Callable[[], None]) -> None:
    """Run `hook` just before this transaction commits (an exception from it rolls back)."""
    hooks = _hooks.get(id(conn))
    if hooks is not None:  # a connection outside `transaction()` (tools, tests) commits itself
        if conn.autocommit:
            raise RuntimeError("a one-statement transaction has committed already: it runs no before-commit hook")
        hooks[0].append(hook)


def after_commit(conn: psycopg2.extensions.connection, hook: Callable[[], None]) -> None:
    """Run `hook` once this transaction has committed; it is dropped on rollback."""
    hooks = _hooks.get(id(conn))
    if hooks is not None:
        hooks[1].append(hook)


def after_commit_batch(conn: psycopg2.extensions.connection, key: Hashable, make: Callable[[], B]) -> B | None:
    """Return this transaction's batch for `key`; the first call makes it and runs its `send()` once the transaction has committed.

    For follow-ups that are cheaper together (Redis writes in one round trip): each caller adds
    to the batch, which is sent once. None outside `transaction()`; dropped on rollback.
    """
    batches = _batches.get(id(conn))
    if batches is None:
        return None
    batch = batches.get(key)
    if batch is None:
        batch = batches[key] = make()
        after_commit(conn, batch.send)
    return batch


def connect(dsn: str) -> psycopg2.extensions.connection:
    """Open a single dict-row connection outside the pool (migrations, tests, tools)."""
    return psycopg2.connect(dsn, cursor_factory=psycopg2.extras.RealDictCursor, connect_timeout=5)
