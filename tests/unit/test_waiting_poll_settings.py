"""MAX_WAITING_POLLS_PER_CLIENT: the contract's default, read from the environment, checked."""

from core.settings import from_environ

BASE = {"DATABASE_URL": "postgresql://db/x", "REDIS_URL": "redis://r/0", "APP_ENV": "test"}


def test_fifty_waiting_polls_per_client_by_default():
    assert from_environ(BASE).max_waiting_polls_per_client == 50


def test_the_cap_is_read_from_the_environment():
    assert from_environ({**BASE, "MAX_WAITING_POLLS_PER_CLIENT": "200"}).max_waiting_polls_per_client == 200


def test_a_cap_of_zero_or_less_is_refused():
    for value in ("0", "-1"):
        problems = from_environ({**BASE, "MAX_WAITING_POLLS_PER_CLIENT": value}).problems()
        assert any("MAX_WAITING_POLLS_PER_CLIENT" in problem for problem in problems)
