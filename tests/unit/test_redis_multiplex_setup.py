"""What a multiplexed connection runs before the first command, read from the Redis URL; how its error replies raise."""

from __future__ import annotations

import pytest
import redis

from webapp import redis_multiplex


@pytest.mark.parametrize(
    ("url", "commands"),
    [
        ("redis://127.0.0.1:6379", []),
        ("redis://127.0.0.1:6379/0", []),
        ("redis://127.0.0.1:6379/3", [("SELECT", 3)]),
        ("redis://:secret@cache:6380/2", [("AUTH", "secret"), ("SELECT", 2)]),
        ("redis://app:secret@cache:6380", [("AUTH", "app", "secret")]),
        ("redis://127.0.0.1:6379?db=4", [("SELECT", 4)]),
    ],
)
def test_setup_authenticates_and_selects_the_urls_database(url: str, commands: list[tuple]) -> None:
    assert redis_multiplex.Multiplexer(url, timeout=1.0).setup_commands == commands


def test_the_address_comes_from_the_url() -> None:
    assert redis_multiplex.Multiplexer("redis://cache.internal:6380/1", timeout=1.0).address == ("cache.internal", 6380)
    assert redis_multiplex.Multiplexer("redis://localhost", timeout=1.0).address == ("localhost", 6379)


@pytest.mark.parametrize(
    ("reply", "error_class", "message"),
    [
        ("NOSCRIPT No matching script. Please use EVAL.", redis.exceptions.NoScriptError, "No matching script. Please use EVAL."),
        ("READONLY You can't write against a read only replica.", redis.exceptions.ReadOnlyError, "You can't write against a read only replica."),
        ("ERR unknown command 'NOPE'", redis.exceptions.ResponseError, "unknown command 'NOPE'"),
        ("ERR max number of clients reached", redis.exceptions.ConnectionError, "max number of clients reached"),
        ("WEIRD something new", redis.exceptions.ResponseError, "WEIRD something new"),
    ],
)
def test_an_error_reply_raises_redis_pys_own_class(reply: str, error_class: type, message: str) -> None:
    error = redis_multiplex.error_from_reply(reply)
    assert type(error) is error_class
    assert str(error) == message
