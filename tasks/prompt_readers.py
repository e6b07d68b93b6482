"""The worker's prompt readers: threads that pop logins off `jobs.PROMPT_QUEUE_KEY` and run the
prompt task's own code for each, without a Celery message per login.

Every login puts one item on the list (`jobs.enqueue_approval_prompt`). A reader runs
`send_approval_prompt` in its own thread, inside a task request it makes itself (a fresh task id,
this worker's name, the queue this worker consumes), so everything the task does is what it does
under Celery: the lease in Postgres, the delivery note, the send budget, and its retry options.
When the task retries (Telegram timed out, a 429, the budget's wait too long, the lease busy),
Celery's `retry` publishes that retry as an ordinary Celery message, and the rest of the prompt's
life is Celery's. When it gives up, the task's failure handler reports it, as after Celery's
tracer.

Each pool process runs READERS_PER_PROCESS readers (tasks/pool_processes.py); the process's
Telegram calls share one event loop in a thread of its own (telegram_sender/sender.py), so a
reader waiting for Telegram holds only itself.

An item popped by a worker killed before it leased the prompt is lost with it, as a Celery message
is when Redis restarts empty: beat's sweep finds the prompt that no task leased within
`session_recovery.UNCLAIMED_PROMPT_SECONDS`, and a worker starting after a crash re-enqueues every
pending login's prompt (tasks/recovery.py).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any

import redis
from celery.exceptions import Retry

from core import redis_client, request_ids
from core.settings import get_settings
from jobs import PROMPT_QUEUE_KEY, consumed_queue, log_context
from tasks import delivery

log = logging.getLogger(__name__)

# Prompts in flight per pool process. A reader waits for Telegram's answer (~0.1-0.3 s from a
# server far from Telegram's), so 4 children x 2 readers send ~30-80 prompts/s, above the send
# budget's 30/s; more would only wait for turns of the budget.
READERS_PER_PROCESS = 2
# How long a pop blocks while the list is empty: a stopping reader ends within it.
POP_TIMEOUT_SECONDS = 5
# After Redis failed a pop: wait this long before the next one, instead of spinning.
REDIS_ERROR_PAUSE_SECONDS = 1.0

_clients = redis_client.PerProcess(lambda url: redis_client.new_client(url, redis_client.QUEUE_READER))


class PromptReaders:
    """The reader threads of one process."""

    def __init__(self, hostname: str | None, count: int = READERS_PER_PROCESS,
                 pop_timeout: float = POP_TIMEOUT_SECONDS) -> None:
        self.hostname = hostname
        self.count = count
        self.pop_timeout = pop_timeout
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the readers (daemon threads: a process that exits takes them with it)."""
        for number in range(self.count):
            thread = threading.Thread(target=self.read, name=f"prompt-reader-{number}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """Ask the readers to stop and wait for them: a prompt being sent is finished first."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(self.pop_timeout + 1)

    def read(self) -> None:
        """Pop and send prompts until asked to stop."""
        client = _clients.get(get_settings().redis_url)
        while not self.stopping.is_set():
            try:
                popped = client.blpop([PROMPT_QUEUE_KEY], timeout=self.pop_timeout)
            except redis.RedisError as exc:
                log.warning("could not read the prompt queue (%s); trying again", type(exc).__name__)
                self.stopping.wait(REDIS_ERROR_PAUSE_SECONDS)
                continue
            if popped is not None:
                run_prompt_task(popped[1], self.hostname)


def run_prompt_task(raw: bytes | str, hostname: str | None) -> None:
    """Run the prompt task for one queue item here, as a worker would run its message."""
    try:
        item = json.loads(raw)
        session_pk = str(item["session"])
        incoming = item.get("request_id")
    except (ValueError, KeyError, TypeError):
        log.warning("dropping a malformed prompt queue item: %.100r", raw)
        return
    task = delivery.send_approval_prompt
    task_id = str(uuid.uuid4())
    log_context.adopt_request_id(incoming)
    # What Celery's tracer sets up for a message: `retry` then publishes the retry (same id, to
    # this worker's queue) instead of raising at once as for a direct call.
    task.push_request(id=task_id, args=[session_pk], kwargs={}, retries=0, hostname=hostname,
                      delivery_info=_delivery_info(), called_directly=False, is_eager=False)
    try:
        task.run(session_pk)
    except Retry as retry:
        log.info("prompt of session %s handed to Celery: %s", session_pk, retry.humanize())
    except Exception as exc:  # noqa: BLE001 - as the tracer: report it, never end the reader
        if isinstance(exc, task.throws):
            log.info("prompt task %s for session %s failed: %s: %s", task_id, session_pk, type(exc).__name__, exc)
        else:
            log.exception("prompt task %s for session %s failed", task_id, session_pk)
        task.on_failure(exc, task_id, [session_pk], {}, None)
    finally:
        task.pop_request()
        request_ids.current.set(None)


def _delivery_info() -> dict[str, Any]:
    # The queue this worker consumes, so that a worker started with -Q gets its own retries.
    queue = consumed_queue()
    return {"exchange": "", "routing_key": queue} if queue else {}
