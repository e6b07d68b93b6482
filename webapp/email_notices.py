"""Record the emails a request causes inside its transaction, and queue them once it is answered.

The outbox row is written with the change it tells of (one transaction: both or neither), and
its task is queued after the response is built, so after the commit. A broker outage there only
delays the email: beat's `requeue_unsent_emails` finds the row.
"""

from __future__ import annotations

from typing import Any, Iterable

from flask import Response, after_this_request, current_app

import jobs
from core import email_events


def send_after_response(outbox_ids: Iterable[str]) -> None:
    """Queue these outbox emails once this request's response is ready (its transaction committed)."""
    ids = tuple(outbox_ids)
    if not ids:
        return

    @after_this_request
    def enqueue(response: Response) -> Response:
        if response.status_code < 400:  # an error rolled its transaction back: nothing was recorded
            jobs.enqueue_emails(ids)
        return response


def record_login(conn, session: dict[str, Any], user: dict[str, Any]) -> None:
    """Record the notice email of a login just opened (Telegram, passkey or email code) and send it after the commit."""
    settings = current_app.extensions["settings"]
    outbox_id = email_events.login_opened(conn, session, user, settings.bot_default_language)
    send_after_response([outbox_id] if outbox_id else [])
