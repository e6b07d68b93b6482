"""Expiring the logins nobody decided: one sweep every few seconds, not a countdown per login.

A login expires at `expires_at` whatever runs (a status poll, a cancel or a stale tap decides it
from the database); what is left for the worker is the login nobody asks about: mark it expired,
count it, and close its Telegram prompt. Not with a countdown task per login: Celery keeps every
countdown task in the worker's main process until it is due (Redis has no delayed delivery), so
the worker's memory would follow the logins (docs/benchmarks.md, the soak). Instead each
worker's consumer asks every EXPIRY_SWEEP_SECONDS for `expire_overdue_sessions`, a Postgres
claim (`auth_sessions.expire_overdue`, `FOR UPDATE SKIP LOCKED`): sweeps of several workers side
by side expire each login once, and a prompt is closed at most a few seconds after its login
ended.

The timer is Celery's own (the consumer's, as its heartbeats use), so the sweep runs wherever a
worker runs; beat stays optional for it.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, bootsteps

from core import auth_sessions, db, events
from jobs import EXPIRE_OVERDUE_SESSIONS, SEND_APPROVAL_PROMPT, UPDATE_PROMPT, app
from tasks.retry_policy import OUTAGES

log = logging.getLogger(__name__)

EXPIRY_SWEEP_SECONDS = 2.0
# Logins expired per transaction; a sweep goes on until fewer are left.
SWEEP_BATCH = 500


@app.task(name=EXPIRE_OVERDUE_SESSIONS, bind=True, acks_late=True)
def expire_overdue_sessions(self: Task) -> int:
    """Expire every pending login whose time is up, ask for its prompt to be closed; return how many."""
    # The queue this came from: a worker started with -Q must get the prompt edits itself.
    queue = (self.request.delivery_info or {}).get("routing_key")
    route = {"queue": queue} if queue else {}
    expired = 0
    try:
        while True:
            with db.transaction() as conn:
                rows = auth_sessions.expire_overdue(conn, SWEEP_BATCH)
            for row in rows:
                events.emit("session_expired", session=row["id"])
                if row["prompt_message_id"] is not None:
                    app.send_task(UPDATE_PROMPT, args=[str(row["id"])], **route)
                elif row["prompt_lease_until"] is not None:
                    # Its sender may have died between delivering and recording the prompt: the
                    # send task, queued again, closes what it delivered (or finds it still sending).
                    app.send_task(SEND_APPROVAL_PROMPT, args=[str(row["id"])], **route)
            expired += len(rows)
            if len(rows) < SWEEP_BATCH:
                return expired
    except OUTAGES as exc:
        # Not retried: the next sweep comes in seconds and finds the same logins.
        log.warning("expiry sweep skipped: %s", type(exc).__name__)
        return expired


def ask_for_sweep(queue: str | None) -> None:
    """Queue one expiry sweep (from the consumer's timer); a broker that can't be reached skips it."""
    try:
        app.send_task(EXPIRE_OVERDUE_SESSIONS, queue=queue)
    except Exception as exc:  # noqa: BLE001 - the timer must keep running; the next tick tries again
        log.warning("could not queue the expiry sweep (%s: %s)", type(exc).__name__, exc)


class ExpirySweeps(bootsteps.StartStopStep):
    """Consumer step: queue `expire_overdue_sessions` every EXPIRY_SWEEP_SECONDS while consuming."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c: Any, **kwargs: Any) -> None:
        super().__init__(c, **kwargs)
        self.timer_entry: Any = None

    def start(self, c: Any) -> None:
        """Start the timer; a worker started with -Q sweeps through its own queue."""
        queues = list(c.app.amqp.queues.consume_from or {})
        self.timer_entry = c.timer.call_repeatedly(EXPIRY_SWEEP_SECONDS, ask_for_sweep, (queues[0] if queues else None,))

    def stop(self, c: Any) -> None:
        """Stop the timer (a reconnecting consumer starts it again)."""
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None


app.steps["consumer"].add(ExpirySweeps)
