"""The Celery app and the names of our tasks: what the web app and the bot need to enqueue work.

Enqueueing is by name, so a publisher never imports the tasks (nor the Telegram client they use);
the worker (`celery -A tasks worker`) runs this same app with the task modules loaded.

A login's approval prompt, the one piece of work every login has, goes to the worker by a
lighter way than a Celery message: its id is appended to a Redis list that the worker's prompt
readers pop (tasks/prompt_readers.py), which then run the prompt task's own code and, when it
must wait or retry, hand it to Celery as that task's retry. A Celery message costs ~2 ms of CPU
across the publisher and the worker (serialising, the consumer, the prefork hand-off, the
acknowledgement); the list costs one command each side (docs/benchmarks.md, "Third pass").
"""

from __future__ import annotations

import json
import logging
from typing import Callable

from celery import Celery
from redis.client import Pipeline

from core import redis_client, request_ids
from core.settings import get_settings

app = Celery("tasks")
app.config_from_object("celeryconfig")
# Signal handlers only: the request id travels with tasks, and the worker logs in LOG_FORMAT.
from jobs import log_context  # noqa: E402,F401

SEND_APPROVAL_PROMPT = "tasks.send_approval_prompt"
UPDATE_PROMPT = "tasks.update_prompt"
EXPIRE_SESSION = "tasks.expire_session"
EXPIRE_OVERDUE_SESSIONS = "tasks.expire_overdue_sessions"
SEND_LOGIN_NOTICE = "tasks.send_login_notice"
RECOVER_SESSIONS = "tasks.recover_sessions"
REQUEUE_STALLED_SESSIONS = "tasks.requeue_stalled_sessions"
PURGE_FINISHED_LOGINS = "tasks.purge_finished_logins"
SEND_EMAIL = "tasks.send_email"
REQUEUE_UNSENT_EMAILS = "tasks.requeue_unsent_emails"
PURGE_OLD_EMAILS = "tasks.purge_old_emails"


# The prompts waiting for a worker, oldest first (RPUSH here, BLPOP in the readers): one JSON
# object per login, {"session": id, "request_id": the id of the request that asked, or null}.
PROMPT_QUEUE_KEY = "prompts-to-send"

_enqueue_clients = redis_client.PerProcess(lambda url: redis_client.new_client(url, redis_client.ENQUEUE))


def enqueue_approval_prompt(session_pk: str, redis_url: str | None = None,
                            along: Callable[[Pipeline], None] | None = None) -> None:
    """Ask a worker to send the approval prompt of a session (after its commit); raise when Redis can't take it.

    `redis_url`: the caller's REDIS_URL where its settings are not the environment's (the web app's).
    `along`: best-effort writes that add their commands to a pipeline, sent ahead of the item in
    one MULTI/EXEC (one round trip): they land with it or not at all. Only the item's own failure
    raises; a command of theirs that Redis refuses is logged.
    """
    item = json.dumps({"session": str(session_pk), "request_id": request_ids.current.get()})
    client = _enqueue_clients.get(redis_url or get_settings().redis_url)
    if along is None:
        client.rpush(PROMPT_QUEUE_KEY, item)
        return
    with client.pipeline(transaction=True) as pipe:
        along(pipe)
        pipe.rpush(PROMPT_QUEUE_KEY, item)
        replies = pipe.execute(raise_on_error=False)
    if isinstance(replies[-1], Exception):
        raise replies[-1]
    refused = [reply for reply in replies[:-1] if isinstance(reply, Exception)]
    if refused:
        logging.getLogger(__name__).warning("a write sent with session %s's prompt failed: %s", session_pk, refused[0])


def consumed_queue() -> str | None:
    """Return the first queue this process's worker consumes (its own under -Q), None for none."""
    queues = list(app.amqp.queues.consume_from or {})
    return queues[0] if queues else None


def enqueue_prompt_update(session_pk: str) -> None:
    """Ask a worker to edit a session's prompt to show its outcome."""
    app.send_task(UPDATE_PROMPT, args=[str(session_pk)])


def enqueue_login_notice(session_pk: str) -> None:
    """Ask a worker to tell the person in Telegram about the login they just approved."""
    app.send_task(SEND_LOGIN_NOTICE, args=[str(session_pk)])


def enqueue_email(outbox_id: str) -> None:
    """Ask a worker to send one email of the outbox (after the commit that recorded it)."""
    app.send_task(SEND_EMAIL, args=[str(outbox_id)])


def enqueue_emails(outbox_ids: tuple[str, ...] | list[str]) -> None:
    """Ask for several outbox emails to be sent; a broker outage only delays them (the sweep finds them)."""
    for outbox_id in outbox_ids:
        try:
            enqueue_email(outbox_id)
        except Exception:  # kombu, redis or socket errors: requeue_unsent_emails sends it later
            logging.getLogger(__name__).warning("could not enqueue email %s; the sweep will", outbox_id)
