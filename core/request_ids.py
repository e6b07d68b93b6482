"""The id of the request (or task) being handled, for every log line it causes.

A contextvar: each thread, asyncio task and gevent greenlet (gevent >= 20) sees its own value,
so concurrent requests in one gunicorn worker never mix their ids.
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets

HEADER = "X-Request-ID"
# What we accept from a client or a proxy: anything else could forge or break log lines.
VALID = re.compile(r"[A-Za-z0-9._-]{1,64}")

current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def new() -> str:
    """Return a fresh random request id."""
    return secrets.token_hex(16)


def accept(incoming: str | None) -> str:
    """Return the caller's id if it is 1-64 characters of [A-Za-z0-9._-], else a fresh one."""
    if incoming and VALID.fullmatch(incoming):
        return incoming
    return new()


class RequestIdFilter(logging.Filter):
    """Stamp each log record with the current request id (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `record.request_id` and keep the record."""
        record.request_id = current.get()
        return True
