"""The worker's prompt readers: a login's prompt travels on a Redis list, not as a Celery message,
and runs the prompt task's own code, with Celery taking over its retries."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from typing import TYPE_CHECKING, Iterator

import pytest
import redis

import jobs
from core import request_ids
from core.settings import Settings
from tasks import prompt_readers
from telegram_emulator.client import EmulatorClient

if TYPE_CHECKING:
    from tests.integration.bot_fixtures import Kit

pytest_plugins = ["tests.integration.bot_fixtures"]

# PTB's RetryAfter warns, in its own constructor, that retry_after will become a timedelta.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def queued_item(session_pk: str) -> bytes:
    return json.dumps({"session": session_pk, "request_id": "req-1"}).encode()


def celery_messages(settings: Settings, queue: str) -> list[dict]:
    """Return the Celery messages waiting in `queue`, oldest first, with their decoded args."""
    client = redis.Redis.from_url(settings.redis_url)
    found = []
    for raw in reversed(client.lrange(queue, 0, -1)):
        message = json.loads(raw)
        message["args"] = json.loads(base64.b64decode(message["body"]))[0]
        found.append(message)
    return found


@pytest.fixture
def default_queue(worker_env: Settings) -> Iterator[str]:
    """The queue this process would consume as a worker (a reader's retries go there), emptied around the test."""
    queue = jobs.consumed_queue()
    assert queue is not None
    client = redis.Redis.from_url(worker_env.redis_url)
    client.delete(queue)
    yield queue
    client.delete(queue)
    client.close()


def test_a_queued_prompt_is_sent_by_the_workers_readers_without_a_celery_message(
    celery_worker: subprocess.Popen, kit: Kit, fake_telegram: EmulatorClient, worker_env: Settings
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    session_pk = str(session.row["id"])

    token = request_ids.current.set("req-from-init")
    try:
        jobs.enqueue_approval_prompt(session_pk)  # what the web app does after committing /init
    finally:
        request_ids.current.reset(token)

    prompt = fake_telegram.wait_for_bot_message(user["telegram_id"], lambda m: m["reply_markup"], timeout=15)
    assert kit.session_row(session_pk)["prompt_message_id"] == prompt["message_id"]
    assert redis.Redis.from_url(worker_env.redis_url).llen(jobs.PROMPT_QUEUE_KEY) == 0
    output = "".join(celery_worker.output)  # type: ignore[attr-defined]
    [sent_line] = [line for line in output.splitlines() if f"event=prompt_sent session={session_pk}" in line]
    assert "req-from-init" in sent_line  # the request id travelled with the item
    assert "Task tasks.send_approval_prompt" not in output  # no Celery message for it


def test_a_reader_hands_a_failed_send_to_celery_as_the_tasks_retry(
    kit: Kit, fake_telegram: EmulatorClient, worker_env: Settings, default_queue: str
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    session_pk = str(session.row["id"])
    fake_telegram.add_fault("sendMessage", "500")

    prompt_readers.run_prompt_task(queued_item(session_pk), "worker@test")

    [retry] = celery_messages(worker_env, default_queue)
    assert retry["headers"]["task"] == jobs.SEND_APPROVAL_PROMPT and retry["args"] == [session_pk]
    assert retry["headers"]["retries"] == 1 and retry["headers"]["eta"] is not None  # Celery's backoff
    # The lease was given back: the retry sends at once instead of waiting for it to lapse.
    assert kit.session_row(session_pk)["prompt_lease_until"] is None
    assert [call.get("fault") for call in fake_telegram.calls("sendMessage")] == ["500"]
    assert kit.session_row(session_pk)["prompt_error"] is None


def test_a_prompt_that_cannot_be_sent_is_reported_as_the_task_reports_it(
    kit: Kit, fake_telegram: EmulatorClient, worker_env: Settings, default_queue: str
) -> None:
    user = kit.linked_user()
    fake_telegram.block(user["telegram_id"])
    session = kit.new_session(user["phone_number"])
    session_pk = str(session.row["id"])

    prompt_readers.run_prompt_task(queued_item(session_pk), "worker@test")

    assert kit.session_row(session_pk)["prompt_error"] == "Forbidden: Forbidden: bot was blocked by the user"
    assert celery_messages(worker_env, default_queue) == []  # not retried
    assert [(c["method"], c["error_code"]) for c in fake_telegram.invalid_calls()] == [("sendMessage", 403)]


def test_readers_drop_a_malformed_item_and_send_the_next_prompt_once(
    kit: Kit, fake_telegram: EmulatorClient, worker_env: Settings
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    session_pk = str(session.row["id"])
    client = redis.Redis.from_url(worker_env.redis_url)
    client.rpush(jobs.PROMPT_QUEUE_KEY, b"not json", json.dumps({"no": "session"}))
    jobs.enqueue_approval_prompt(session_pk)
    jobs.enqueue_approval_prompt(session_pk)  # a duplicate: both readers may take one at once

    readers = prompt_readers.PromptReaders("worker@test", count=2, pop_timeout=0.5)
    readers.start()
    try:
        fake_telegram.wait_for_bot_message(user["telegram_id"], lambda m: m["reply_markup"], timeout=15)
        deadline = time.monotonic() + 10
        while client.llen(jobs.PROMPT_QUEUE_KEY) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        readers.stop()

    assert all(not thread.is_alive() for thread in readers.threads)
    assert client.llen(jobs.PROMPT_QUEUE_KEY) == 0
    assert len(fake_telegram.bot_messages(user["telegram_id"])) == 1  # the lease: one prompt
    assert fake_telegram.invalid_calls() == []
