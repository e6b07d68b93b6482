"""One log line per important event, with phone numbers masked and never a token."""

from __future__ import annotations

import logging
from typing import Any

from core import phones

log = logging.getLogger("dance_of_mind.events")

# Fields whose values must never reach a log line, whatever a caller passes.
SECRET_FIELDS = frozenset({"session_id", "access_token", "refresh_token", "token", "start_token", "secret"})


def emit(event: str, **fields: Any) -> None:
    """Log `event` with its fields as `key=value` pairs; phones are masked, secrets dropped."""
    parts = [f"event={event}"]
    # The same fields, kept apart for LOG_FORMAT=json (core/logs.py makes them keys of their own).
    structured: dict[str, Any] = {"event": event}
    for key, value in fields.items():
        if key in SECRET_FIELDS or value is None:
            continue
        if key in ("phone", "phone_number"):
            value = phones.mask(str(value))
        parts.append(f"{key}={value}")
        structured[key] = value if isinstance(value, (int, float, bool)) else str(value)
    log.info(" ".join(parts), extra={"event_fields": structured})
