"""Give logins back the tasks a dead worker or a lost broker took with it: at a worker's start after
a crash, and every half minute from beat.

A worker killed mid-task (SIGKILL, the OOM killer, a lost machine) leaves its tasks unacknowledged
in Redis, and Celery redelivers them only after `visibility_timeout` (an hour: it must exceed the
longest countdowns). A Redis restarted without persistence loses the queue outright. Either way a
prompt would never be sent. So, when a worker's consumer starts after a crash of the previous
worker of the same name, or reconnects after losing the broker, it queues `recover_sessions`,
which re-enqueues `send_approval_prompt` for every pending login that is linked and has no
prompt and no final send error. (Expiry needs no recovery: every worker sweeps for overdue
logins every few seconds, tasks/expiry.py.)

A worker that starts after a crash also frees the prompt leases its predecessor held, so those
prompts go out at once. A worker lost on another host is found by beat's sweep
(`requeue_stalled_sessions`) once its leases lapse, without waiting for the visibility timeout.

Being tasks, the sweeps are retried like any other while Postgres is down. Duplicates are
harmless: the tasks are idempotent (a lease per prompt in Postgres, `record_prompt ... WHERE
prompt_message_id IS NULL`, one claim per prompt edit), so beat may run on several hosts. A worker that stopped cleanly (warm shutdown) finished its
tasks and put its scheduled ones back in the queue: no sweep then, so a routine restart costs
nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Task, bootsteps
from celery.signals import worker_shutdown

from core import auth_sessions, db, events, redis_client, session_recovery
from jobs import RECOVER_SESSIONS, REQUEUE_STALLED_SESSIONS, SEND_APPROVAL_PROMPT, app, consumed_queue
from tasks.retry_policy import OutageRetryingTask

log = logging.getLogger(__name__)

# Set while a worker of that name runs; still there at start-up = the last one did not stop cleanly.
RUNNING_KEY = "worker-running:{hostname}"


@app.task(name=RECOVER_SESSIONS, bind=True, base=OutageRetryingTask)
def recover_sessions(self: Task, why: str, crashed_worker: str | None = None) -> None:
    """Re-enqueue every pending login's prompt where it is missing."""
    with db.transaction() as conn:
        unrecorded = session_recovery.unrecorded_prompts(conn, crashed_worker)
        freed = auth_sessions.release_prompt_leases_of(conn, crashed_worker) if crashed_worker else 0
        rows = session_recovery.pending_sessions(conn)
    prompts = _requeue(self, rows) + _requeue_unrecorded(self, unrecorded)
    events.emit("sessions_recovered", why=why, pending=len(rows), prompts=prompts, leases_freed=freed)


@app.task(name=REQUEUE_STALLED_SESSIONS, bind=True, base=OutageRetryingTask)
def requeue_stalled_sessions(self: Task) -> None:
    """Re-enqueue the prompts whose lease lapsed (their worker died) or that no task ever leased."""
    with db.transaction() as conn:
        rows = session_recovery.stalled_sessions(conn)
        unrecorded = session_recovery.unrecorded_prompts(conn, None)
    if rows or unrecorded:
        prompts = _requeue(self, rows) + _requeue_unrecorded(self, unrecorded)
        events.emit("stalled_sessions_requeued", pending=len(rows), prompts=prompts)


def _requeue(task: Task, rows: list[dict[str, Any]]) -> int:
    """Enqueue each login's prompt where one is due; return how many."""
    # The queue this came from: a worker started with -Q must get these tasks itself.
    queue = (task.request.delivery_info or {}).get("routing_key")
    prompts = 0
    for row in rows:
        session_pk = str(row["id"])
        if row["needs_prompt"]:
            app.send_task(SEND_APPROVAL_PROMPT, args=[session_pk], queue=queue)
            prompts += 1
    return prompts


def _requeue_unrecorded(task: Task, session_pks: list[str]) -> int:
    """Enqueue the send task of ended logins whose prompt may be in a chat unrecorded: it closes them."""
    queue = (task.request.delivery_info or {}).get("routing_key")
    for session_pk in session_pks:
        app.send_task(SEND_APPROVAL_PROMPT, args=[session_pk], queue=queue)
    return len(session_pks)


class RecoverSessions(bootsteps.StartStopStep):
    """Consumer step: after a crash or a lost broker connection, ask for `recover_sessions`."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, c: Any) -> None:
        """Sweep when the previous worker crashed or this consumer is reconnecting; then mark it running."""
        key = RUNNING_KEY.format(hostname=c.hostname)
        reconnecting = c.restart_count > 0
        try:
            client = redis_client.get_redis()
            crashed = bool(client.exists(key))
            client.set(key, "1")
        except redis.RedisError as exc:
            log.warning("could not read the worker-running mark (%s); recovering anyway", exc)
            crashed = True
        if not (crashed or reconnecting):
            return
        why = "reconnected" if reconnecting else "previous worker crashed"
        # Only a crashed predecessor's leases are surely dead; a reconnecting worker's are its own.
        args = [why, None] if reconnecting else [why, c.hostname]
        try:
            app.send_task(RECOVER_SESSIONS, args=args, queue=consumed_queue())
        except Exception as exc:  # noqa: BLE001 - the broker just answered; never stop consuming for this
            log.warning("could not ask for session recovery (%s: %s)", type(exc).__name__, exc)


@worker_shutdown.connect
def _on_clean_shutdown(sender: Any = None, **_: Any) -> None:
    # An unrecoverable error also shuts down through here: keep the mark then, to sweep next time.
    if getattr(sender, "exitcode", None) not in (None, 0):
        return
    hostname = getattr(sender, "hostname", None)
    if not hostname:
        return
    try:
        redis_client.get_redis().delete(RUNNING_KEY.format(hostname=hostname))
    except redis.RedisError as exc:
        log.warning("could not clear the worker-running mark (%s): the next start sweeps", exc)


app.steps["consumer"].add(RecoverSessions)
