"""How the status poll's Redis commands travel: the one interface the hot path calls.

`PollTransport.execute(*command)` sends one bare command (no client layer: command dispatch,
retry wrapper and response callbacks cost the hot path's CPU) and returns its reply; error
replies raise as redis-py raises them. In a gunicorn gevent worker the commands of all its
requests share one pipelined connection (webapp/redis_multiplex.py); elsewhere, and for TLS or
Unix-socket URLs, each takes a connection of the pool. Both try a command once more when its
connection broke, so a Redis restart costs no error.
"""

from __future__ import annotations

from typing import Any

import redis

from core import redis_client
from webapp import redis_multiplex


class PollTransport:
    """Sends the poll path's commands for one Redis URL, pipelined under gevent, else pooled."""

    def __init__(self, url: str, pool: redis.ConnectionPool, timeout: float) -> None:
        self._pool = pool
        # Decided in the process that serves (after fork, after gevent patched it, if it does).
        self._multiplexers = redis_client.PerProcess(lambda: redis_multiplex.for_url(url, timeout))

    def execute(self, *command: Any) -> Any:
        """Send one command and return its reply; an error reply raises as redis-py would raise it."""
        multiplexer = self._multiplexers.get()
        if multiplexer is not None:
            return multiplexer.call(*command)
        return call(self._pool, *command)


def call(pool: redis.ConnectionPool, *command: Any) -> Any:
    """Send one command on a connection of `pool` and return its reply; error replies raise.

    A failed send or read closes that connection (redis-py does so itself) and the command is
    tried once more on another (`retried`): a connection that a Redis restart closed costs no
    error. An error reply such as NOSCRIPT leaves the connection in step, and it goes back to
    the pool.
    """

    def attempt() -> Any:
        connection = pool.get_connection()
        try:
            connection.send_command(*command)
            return connection.read_response()
        finally:
            pool.release(connection)

    return redis_multiplex.retried(attempt)
