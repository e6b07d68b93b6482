"""The rate-limit settings: defaults of the contract, and refusal of what the limits library can't read."""

import pytest

from core.settings import from_environ, is_rate_limit

BASE = {"DATABASE_URL": "postgresql://db/x", "REDIS_URL": "redis://r/0", "APP_ENV": "test"}


def test_defaults_of_the_contract():
    s = from_environ(BASE)
    assert s.rate_limit_init_per_ip == "10/minute"
    assert s.rate_limit_init_per_phone == "3/10 minutes"
    assert s.rate_limit_refresh_per_family == "30/hour"
    assert s.rate_limit_refresh_per_ip == "60/minute"
    assert s.rate_limit_poll_burst == 2
    assert s.telegram_send_rate == "30/second"


def test_limits_are_read_from_the_environment():
    s = from_environ(
        {
            **BASE,
            "RATE_LIMIT_INIT_PER_IP": "100 per hour",
            "RATE_LIMIT_REFRESH_PER_FAMILY": "5/minute",
            "RATE_LIMIT_POLL_BURST": "0",
            "TELEGRAM_SEND_RATE": "5/second",
        }
    )
    assert (s.rate_limit_init_per_ip, s.rate_limit_refresh_per_family) == ("100 per hour", "5/minute")
    assert (s.rate_limit_poll_burst, s.telegram_send_rate) == (0, "5/second")
    assert s.problems() == []


@pytest.mark.parametrize("text", ["10/minute", "3/10 minutes", "3 per 10 minutes", "25/second", "1/day"])
def test_rate_limit_notation_is_accepted(text):
    assert is_rate_limit(text)


@pytest.mark.parametrize("text", ["", "ten a minute", "10/fortnight", "0/minute", "10/minute;100/hour"])
def test_other_text_is_refused(text):
    assert not is_rate_limit(text)


@pytest.mark.parametrize(
    "name", ["RATE_LIMIT_INIT_PER_IP", "RATE_LIMIT_INIT_PER_PHONE", "RATE_LIMIT_REFRESH_PER_FAMILY",
             "RATE_LIMIT_REFRESH_PER_IP", "TELEGRAM_SEND_RATE"]
)
def test_an_unreadable_limit_stops_the_start(name):
    problems = from_environ({**BASE, name: "lots"}).problems()
    assert any(name in p and "lots" in p for p in problems)


def test_a_negative_poll_burst_stops_the_start():
    assert any("RATE_LIMIT_POLL_BURST" in p for p in from_environ({**BASE, "RATE_LIMIT_POLL_BURST": "-1"}).problems())


def test_the_prompt_budget_per_phone_defaults_to_three_in_ten_minutes_and_is_validated():
    assert from_environ(BASE).prompt_budget_per_phone == "3/10 minutes"
    assert from_environ({**BASE, "PROMPT_BUDGET_PER_PHONE": "5 per hour"}).problems() == []
    problems = from_environ({**BASE, "PROMPT_BUDGET_PER_PHONE": "lots"}).problems()
    assert any(p.startswith("PROMPT_BUDGET_PER_PHONE must be a rate limit") for p in problems)
