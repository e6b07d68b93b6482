"""How our tasks retry: Celery's own options, plus Telegram's 429 and the outages of our own services.

- Telegram 5xx and timeouts: `autoretry_for` with exponential backoff (1, 2, 4, 8, 16 s), given
  up after `max_retries`. No jitter: copies that failed together and retry together still take
  turns from the shared send budget, so they can't burst past Telegram's limit.
- Telegram 429: after exactly the `retry_after` it asks for (`retry_after_429`), never past the
  login's expiry.
- Postgres or Redis down: retried like a 5xx, but for about the lifetime of a login
  (OUTAGE_MAX_RETRIES), so a prompt due during a restart is sent once it is back.
- Anything else (the person blocked the bot, a bad request): not retried; `give_up` says why.
"""

from __future__ import annotations

from typing import Any

import redis
from celery import Task
from celery.utils.time import get_exponential_backoff_interval
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut

from core import events, shared_metrics
from core.errors import ServiceUnavailable
from telegram_sender.sender import retry_after_seconds

OUTAGES = (ServiceUnavailable, redis.RedisError)
# 1 + 2 + 4 + 8 + 16 x 21 s at most: beyond the default login lifetime (AUTH_SESSION_TTL = 300 s).
OUTAGE_MAX_RETRIES = 25


class ExpiresFirst(Exception):
    """Telegram asks us to wait past the login's expiry: trying again can't help."""


class OutageRetryingTask(Task):
    """A task that meets Postgres or Redis down is retried with backoff, not dropped (the sweeps, retention)."""

    acks_late = True
    autoretry_for = OUTAGES
    retry_backoff = 1
    retry_backoff_max = 16
    retry_jitter = False
    max_retries = OUTAGE_MAX_RETRIES

    def retry(self, *args: Any, exc: BaseException | None = None, max_retries: int | None = None,
              **kwargs: Any) -> Any:
        """Retry later; an outage gets about a login's lifetime of tries, whatever the task's own limit."""
        if isinstance(exc, OUTAGES):
            if self.request.is_eager or self.request.called_directly:
                raise exc  # tests and direct calls see the outage; only the worker retries
            max_retries = OUTAGE_MAX_RETRIES if max_retries is None else max_retries
        try:
            return super().retry(*args, exc=exc, max_retries=max_retries, **kwargs)
        finally:
            # Celery keeps an explicit max_retries on the task object, where autoretry would apply
            # it to every later run of this task in the process; it is meant for this retry only.
            self.__dict__.pop("override_max_retries", None)


class TelegramTask(OutageRetryingTask):
    """A task that calls Telegram: retried by Celery on transient failures, with one backoff."""

    autoretry_for = (TimedOut, NetworkError, *OUTAGES)
    dont_autoretry_for = (BadRequest,)  # a NetworkError, but the call itself is wrong
    max_retries = 6
    # Expected failures: Celery logs them without a traceback.
    throws = (TelegramError, ExpiresFirst, *OUTAGES)
    failure_event = "task_failed"

    def retry(self, *args: Any, exc: BaseException | None = None, max_retries: int | None = None,
              **kwargs: Any) -> Any:
        """Retry, for longer after an outage of our own services; count the retries of Telegram calls."""
        if isinstance(exc, TelegramError) and self.request.retries < (max_retries or self.max_retries):
            shared_metrics.count(shared_metrics.TELEGRAM_RETRIES)
        return super().retry(*args, exc=exc, max_retries=max_retries, **kwargs)

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Say why the task gave up; an outage says nothing for the login (the sweep takes it up again)."""
        if isinstance(exc, OUTAGES) or not args:
            return
        if isinstance(exc, ExpiresFirst):
            reason = str(exc)
        elif isinstance(exc, (TimedOut, NetworkError, RetryAfter)) and not isinstance(exc, BadRequest):
            reason = f"gave up after {self.request.retries} retries: {exc}"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        telegram_failed = isinstance(exc, ExpiresFirst) or reason.startswith("gave up")
        self.give_up(str(args[0]), reason, telegram_failed)

    def give_up(self, session_pk: str, reason: str, telegram_failed: bool) -> None:
        """Report a task that stopped trying for this login."""
        events.emit(self.failure_event, session=session_pk, reason=reason)


def retry_after_429(task: Task, exc: RetryAfter, seconds_left: float | None = None) -> None:
    """Retry after exactly Telegram's `retry_after`; raise ExpiresFirst when that is past the login's expiry."""
    delay = retry_after_seconds(exc)
    if seconds_left is not None and delay >= seconds_left:
        raise ExpiresFirst(f"session expires before the next try: {exc}") from exc
    raise task.retry(countdown=delay, exc=exc)


def retry_before_expiry(task: Task, exc: TelegramError, seconds_left: float) -> None:
    """Retry a failed call in time for the login, or raise ExpiresFirst; return for a call not to be retried."""
    if isinstance(exc, RetryAfter):
        retry_after_429(task, exc, seconds_left)
    if isinstance(exc, task.autoretry_for) and not isinstance(exc, task.dont_autoretry_for):
        # The wait Celery's autoretry is about to choose, from the task's own options.
        delay = get_exponential_backoff_interval(task.retry_backoff, task.request.retries, task.retry_backoff_max,
                                                 task.retry_jitter)
        if delay >= seconds_left:
            raise ExpiresFirst(f"session expires before the next try: {exc}") from exc
