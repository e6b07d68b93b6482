"""`poll_transport.call`: one retry on a broken connection, none on an error reply, connections always returned."""

from __future__ import annotations

import pytest
import redis

from webapp import poll_transport


class ScriptedConnection:
    """A pooled connection whose reply is a value, or an exception raised on send."""

    def __init__(self, outcome: object) -> None:
        self.outcome = outcome
        self.sent: list[tuple] = []

    def send_command(self, *command: object) -> None:
        self.sent.append(command)
        if isinstance(self.outcome, redis.ConnectionError):
            raise self.outcome

    def read_response(self) -> object:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class ScriptedPool:
    """Hands out its connections in order and records which came back."""

    def __init__(self, *outcomes: object) -> None:
        self.connections = [ScriptedConnection(outcome) for outcome in outcomes]
        self.handed_out: list[ScriptedConnection] = []
        self.released: list[ScriptedConnection] = []

    def get_connection(self) -> ScriptedConnection:
        connection = self.connections[len(self.handed_out)]
        self.handed_out.append(connection)
        return connection

    def release(self, connection: ScriptedConnection) -> None:
        self.released.append(connection)


def test_a_broken_connection_is_retried_once_on_another():
    pool = ScriptedPool(redis.ConnectionError("closed"), b"PONG")
    assert poll_transport.call(pool, "PING") == b"PONG"
    assert [c.sent for c in pool.handed_out] == [[("PING",)], [("PING",)]]
    assert pool.released == pool.handed_out


def test_a_timeout_is_retried_once_then_raised():
    pool = ScriptedPool(redis.TimeoutError("slow"), redis.TimeoutError("slow"), b"never asked")
    with pytest.raises(redis.TimeoutError):
        poll_transport.call(pool, "PING")
    assert len(pool.handed_out) == 2
    assert pool.released == pool.handed_out


def test_an_error_reply_is_not_retried():
    pool = ScriptedPool(redis.exceptions.NoScriptError("NOSCRIPT"), b"never asked")
    with pytest.raises(redis.exceptions.NoScriptError):
        poll_transport.call(pool, "EVALSHA", "0" * 40, 0)
    assert len(pool.handed_out) == 1
    assert pool.released == pool.handed_out
