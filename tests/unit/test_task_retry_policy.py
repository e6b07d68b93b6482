from datetime import timedelta

import pytest
import redis
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from tasks import prompts as prompt_tasks

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.mark.parametrize(("retries", "base"), [(0, 1), (1, 2), (2, 4), (3, 8), (4, 16), (5, 16), (9, 16)])
def test_backoff_doubles_up_to_sixteen_seconds_with_jitter(retries, base):
    delays = [prompt_tasks.backoff_seconds(retries) for _ in range(200)]
    assert all(base <= d <= base * 1.5 for d in delays)
    assert len(set(delays)) > 1  # jittered: copies that failed together don't retry together


@pytest.mark.parametrize("retry_after", [7, timedelta(seconds=7)])
def test_retry_after_is_honoured_exactly_as_seconds_or_timedelta(retry_after):
    assert prompt_tasks.retry_after_seconds(RetryAfter(retry_after)) == 7.0


def test_a_429_waits_what_telegram_asks_whatever_the_retry_count():
    assert prompt_tasks.retry_delay(RetryAfter(30), retries=5) == 30.0


def test_a_429_still_in_force_for_the_chat_waits_out_what_is_left():
    assert prompt_tasks.retry_delay(prompt_tasks.FloodWait(timedelta(milliseconds=1500)), retries=0) == 1.5


@pytest.mark.parametrize(
    "exc",
    [TimedOut(), NetworkError("Internal Server Error (500)"), NetworkError("Bad Gateway"), redis.ConnectionError()],
)
def test_timeouts_5xx_and_redis_outages_back_off(exc):
    assert 1 <= prompt_tasks.retry_delay(exc, retries=0) <= 1.5


@pytest.mark.parametrize(
    "exc",
    [
        BadRequest("Chat not found"),
        Forbidden("Forbidden: bot was blocked by the user"),
        InvalidToken(),
        ChatMigrated(42),
        ValueError("a bug"),
    ],
)
def test_errors_a_retry_cannot_fix_are_not_retried(exc):
    assert prompt_tasks.retry_delay(exc, retries=0) is None
