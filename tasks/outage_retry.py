"""The base class of our tasks: a task that meets Postgres or Redis down is retried later, not dropped.

Without it, a prompt whose task ran while Postgres restarted would never be sent: the task fails
with ServiceUnavailable and Celery forgets it. Retries back off to 16 s and go on for about the
lifetime of a login (OUTAGE_MAX_RETRIES); each task then reads the truth again, so a late run
does nothing wrong (an overdue session gets no prompt).
"""

from __future__ import annotations

import random
from typing import Any

from celery import Task

from core.errors import ServiceUnavailable

BACKOFF_CAP_SECONDS = 16
# 1 + 2 + 4 + 8 + 16 x 21 s: beyond the default login lifetime (AUTH_SESSION_TTL = 300 s).
OUTAGE_MAX_RETRIES = 25


def outage_backoff_seconds(retries: int) -> float:
    """Return the wait before retry `retries + 1` after an outage: 1, 2, 4, 8, 16, 16... s plus jitter."""
    base = min(2**retries, BACKOFF_CAP_SECONDS)
    return base + random.uniform(0, base / 2)


class OutageRetryingTask(Task):
    """A Celery task that retries itself when a backing service is unavailable."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task; on ServiceUnavailable, schedule a retry with backoff."""
        try:
            return super().__call__(*args, **kwargs)
        except ServiceUnavailable as exc:
            request = self.request
            if request.called_directly or request.is_eager:
                raise  # tests and direct calls see the error; only the worker retries
            raise self.retry(
                exc=exc, countdown=outage_backoff_seconds(request.retries), max_retries=OUTAGE_MAX_RETRIES
            ) from exc
