"""What a multiplexed connection runs before the first command, read from the Redis URL."""

from __future__ import annotations

import pytest

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
