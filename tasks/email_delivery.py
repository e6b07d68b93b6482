"""The worker's email tasks: send one email of the outbox, and requeue the ones whose task was lost.

A task takes an outbox id, leases the row in Postgres (`email_outbox.claim`), composes it
(`core.email_messages`), hands it to the SMTP server (`mail_sender.smtp`) and marks it sent.
An SMTP server that is away or answers 4xx is retried by Celery with exponential backoff (and
jitter: many emails queued during an outage must not return in one burst); a 5xx is final.
Email never holds up a login: the request that caused it only recorded a row.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from celery import Task

from core import db, email_messages, email_outbox, events
from core.settings import get_settings
from jobs import PURGE_OLD_EMAILS, REQUEUE_UNSENT_EMAILS, SEND_EMAIL, app, enqueue_email
from mail_sender import smtp
from tasks.retry_policy import OUTAGES, OutageRetryingTask

log = logging.getLogger(__name__)

# An unsent email whose task may have been lost is queued again after this long.
STALLED_AFTER_SECONDS = 120


class SmtpUnavailable(Exception):
    """The SMTP server is away or said "try later" (4xx): Celery retries."""


class EmailTask(OutageRetryingTask):
    """Celery's own retry options: 1, 2, 4 … 300 s with jitter, about an hour in all."""

    autoretry_for = (SmtpUnavailable, *OUTAGES)
    retry_backoff = 1
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 20
    throws = (SmtpUnavailable, *OUTAGES)


@app.task(name=SEND_EMAIL, bind=True, base=EmailTask)
def send_email(self: Task, outbox_id: str) -> None:
    """Send one outbox email if it is unsent and nobody else is sending it."""
    settings = get_settings()
    if not settings.email_enabled:
        log.warning("email %s not sent: SMTP_URL is not set", outbox_id)
        return
    with db.transaction() as conn:
        row = email_outbox.claim(conn, outbox_id)
    if row is None:
        return  # sent already, or another copy holds it
    message = email_messages.compose(row, site_name=settings.site_name, public_base_url=settings.public_base_url,
                                     email_from=settings.email_from, now=datetime.now(timezone.utc))
    try:
        smtp.send(settings.smtp_url.get_secret_value(), message)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        with db.transaction() as conn:
            email_outbox.release(conn, outbox_id, error)
        if smtp.is_transient(exc):
            events.emit("email_delayed", email=outbox_id, kind=row["kind"], attempt=row["attempts"], error=error)
            raise SmtpUnavailable(error) from exc
        events.emit("email_failed", email=outbox_id, kind=row["kind"], error=error)
        return
    with db.transaction() as conn:
        email_outbox.mark_sent(conn, outbox_id)
    events.emit("email_sent", email=outbox_id, kind=row["kind"], attempts=row["attempts"])


@app.task(name=REQUEUE_UNSENT_EMAILS, bind=True, base=OutageRetryingTask)
def requeue_unsent_emails(self: Task) -> None:
    """Queue again the unsent emails whose task was lost (a broker outage when they were recorded)."""
    with db.transaction() as conn:
        stalled = email_outbox.stalled(conn, STALLED_AFTER_SECONDS)
    for outbox_id in stalled:
        enqueue_email(outbox_id)
    if stalled:
        events.emit("unsent_emails_requeued", count=len(stalled))


@app.task(name=PURGE_OLD_EMAILS, bind=True, base=OutageRetryingTask)
def purge_old_emails(self: Task) -> None:
    """Delete emails and codes older than RETENTION_DAYS (the outbox keeps addresses and login details)."""
    with db.transaction() as conn:
        deleted = email_outbox.purge(conn, get_settings().retention_days)
    if deleted:
        events.emit("old_emails_purged", count=deleted)
