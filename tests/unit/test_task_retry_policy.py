from datetime import timedelta

import pytest
import redis
from celery.utils.time import get_exponential_backoff_interval
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

import tasks.delivery  # noqa: F401 - registers the tasks
from core.errors import ServiceUnavailable
from jobs import EXPIRE_SESSION, SEND_APPROVAL_PROMPT, SEND_LOGIN_NOTICE, UPDATE_PROMPT, app
from telegram_sender.sender import FloodWait, retry_after_seconds

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TELEGRAM_TASKS = (SEND_APPROVAL_PROMPT, UPDATE_PROMPT, EXPIRE_SESSION, SEND_LOGIN_NOTICE)


def retried(task, exc) -> bool:
    """Tell whether Celery's autoretry takes this exception up."""
    return isinstance(exc, task.autoretry_for) and not isinstance(exc, task.dont_autoretry_for)


@pytest.mark.parametrize("name", TELEGRAM_TASKS)
def test_backoff_doubles_up_to_sixteen_seconds_through_celerys_options(name):
    task = app.tasks[name]
    assert (task.retry_backoff, task.retry_backoff_max, task.max_retries) == (1, 16, 6)
    assert task.acks_late
    for retries, base in [(0, 1), (1, 2), (2, 4), (3, 8), (4, 16), (5, 16), (9, 16)]:
        delay = get_exponential_backoff_interval(task.retry_backoff, retries, task.retry_backoff_max, task.retry_jitter)
        assert delay == base


@pytest.mark.parametrize("retry_after", [7, timedelta(seconds=7)])
def test_retry_after_is_honoured_exactly_as_seconds_or_timedelta(retry_after):
    assert retry_after_seconds(RetryAfter(retry_after)) == 7.0


def test_a_429_still_in_force_for_the_chat_waits_out_what_is_left():
    assert retry_after_seconds(FloodWait(timedelta(milliseconds=1500))) == 1.5


@pytest.mark.parametrize(
    "exc",
    [TimedOut(), NetworkError("Internal Server Error (500)"), NetworkError("Bad Gateway"), redis.ConnectionError(),
     ServiceUnavailable("postgres", "down")],
)
def test_timeouts_5xx_and_outages_back_off(exc):
    assert retried(app.tasks[SEND_APPROVAL_PROMPT], exc)


@pytest.mark.parametrize(
    "exc",
    [
        BadRequest("Chat not found"),
        Forbidden("Forbidden: bot was blocked by the user"),
        InvalidToken(),
        ChatMigrated(42),
        ValueError("a bug"),
        RetryAfter(30),  # retried after exactly its retry_after, not the backoff
    ],
)
def test_errors_the_backoff_cannot_fix_are_not_autoretried(exc):
    assert not retried(app.tasks[SEND_APPROVAL_PROMPT], exc)
