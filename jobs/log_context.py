"""The worker's logs: our LOG_FORMAT, and the web request's id on the lines of the tasks it enqueued.

The publisher (web app, bot) puts its current request id in the task message's headers; the
worker sets it for the task's run, so its log lines carry the id of the request that caused them.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from core import logs, request_ids
from core.settings import get_settings

HEADER = "x_request_id"


@signals.before_task_publish.connect
def add_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Carry the current request id in the message headers of a task being enqueued."""
    request_id = request_ids.current.get()
    if request_id and headers is not None:
        headers[HEADER] = request_id


@signals.task_prerun.connect
def take_request_id(task: Any = None, **_: Any) -> None:
    """Make the id the task was enqueued with current for its run (none if it had none)."""
    request = getattr(task, "request", None)
    adopt_request_id(getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER))


def adopt_request_id(incoming: object) -> None:
    """Make a request id that came with queued work current, if it is a valid one (else none)."""
    valid = isinstance(incoming, str) and request_ids.VALID.fullmatch(incoming) is not None
    request_ids.current.set(incoming if valid else None)


@signals.task_postrun.connect
def drop_request_id(**_: Any) -> None:
    """Forget the task's request id, so the next task in this process starts clean."""
    request_ids.current.set(None)


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def use_our_format(logger: logging.Logger | None = None, **_: Any) -> None:
    """Give Celery's handlers our LOG_FORMAT (text or JSON) and the request id."""
    if logger is not None:
        logs.apply_format(logger, get_settings().log_format)
