"""The catcher's memory: every message accepted over SMTP, parsed once, in arrival order."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any


def _part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    return body.get_content() if body is not None else ""


class Inbox:
    """Messages received, safe to use from the SMTP thread and the web server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        # "tempfail": answer every message with 451 (the server is busy) until cleared.
        self.fault: str | None = None

    def add(self, mail_from: str, recipients: list[str], raw: bytes) -> dict[str, Any]:
        """Keep one message as it arrived."""
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        entry = {
            "id": next(self._ids),
            "message_id": message.get("Message-ID", ""),
            "mail_from": mail_from,
            "to": recipients,
            "from": str(message.get("From", "")),
            "subject": str(message.get("Subject", "")),
            "text": _part(message, "plain"),
            "html": _part(message, "html"),
            "content_language": message.get("Content-Language", ""),
            "received_at": datetime.now(timezone.utc).isoformat(),
        }
        with self._lock:
            self._messages.append(entry)
        return entry

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """Return the messages (to one recipient, if given), oldest first."""
        with self._lock:
            found = list(self._messages)
        if to:
            found = [m for m in found if to.lower() in (r.lower() for r in m["to"])]
        return found

    def clear(self) -> None:
        """Forget every message."""
        with self._lock:
            self._messages.clear()
