"""Logging of every process (web, worker, bot, release): one line per record, text or JSON.

LOG_FORMAT=text (default): `time LEVEL logger: message [request_id=...]`.
LOG_FORMAT=json: one JSON object per line with time, level, logger, message, request_id, and the
fields of `core.events` records as keys of their own, for log collectors to index.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from core import request_ids

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Set by core.events on its records: {"event": ..., other fields...}.
EVENT_FIELDS_ATTR = "event_fields"
# Names our JSON keys use; an event field of the same name is prefixed so it can't overwrite them.
RESERVED_KEYS = frozenset({"time", "level", "logger", "message", "request_id", "exception"})


class TextFormatter(logging.Formatter):
    """One line per record (tracebacks escaped), the request id appended when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record on one line."""
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id:
            line += f" request_id={request_id}"
        return line.replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON object on one line."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in (getattr(record, EVENT_FIELDS_ATTR, None) or {}).items():
            entry[f"field_{key}" if key in RESERVED_KEYS else key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    """Return the formatter of a LOG_FORMAT value."""
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return TextFormatter(TEXT_FORMAT)
    raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, got {log_format!r}")


def configure(level_name: str, log_format: str = "text") -> None:
    """Log to stderr in this format at this level; existing root handlers get the format and the request id."""
    level = logging.getLevelNamesMapping().get(level_name.upper())
    if level is None:
        raise ValueError(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, got {level_name!r}")
    root = logging.getLogger()
    root.setLevel(level)
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    apply_format(root, log_format)
    # httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def apply_format(logger: logging.Logger, log_format: str) -> None:
    """Give the handlers of `logger` our format and the request id (Celery's own handlers too)."""
    chosen = formatter(log_format)
    for handler in logger.handlers:
        # pytest's capture handlers keep their own format.
        if type(handler).__module__.startswith("_pytest"):
            continue
        handler.setFormatter(chosen)
        if not any(isinstance(f, request_ids.RequestIdFilter) for f in handler.filters):
            handler.addFilter(request_ids.RequestIdFilter())
