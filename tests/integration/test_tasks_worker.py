"""A real `celery -A tasks worker` process: the queue, countdowns and retries as deployed."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import tasks
from core import texts
from core.settings import Settings
from telegram_emulator.client import EmulatorClient

if TYPE_CHECKING:
    from tests.integration.bot_fixtures import Kit

pytest_plugins = ["tests.integration.bot_fixtures"]


def test_a_worker_honours_429_sends_once_and_expires_on_time(
    celery_worker: subprocess.Popen, kit: Kit, fake_telegram: EmulatorClient, worker_env: Settings
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"], ttl_seconds=5)
    session_pk = str(session.row["id"])
    fake_telegram.add_fault("sendMessage", "429", retry_after=2)

    # What the web app does after committing a new session; the worker's own sweep expires it.
    tasks.enqueue_approval_prompt(session_pk)
    tasks.enqueue_approval_prompt(session_pk)  # a duplicate: the bot's contact flow, say

    prompt = fake_telegram.wait_for_bot_message(user["telegram_id"], lambda m: m["reply_markup"], timeout=15)
    first, *rest = fake_telegram.calls("sendMessage")
    assert first["fault"] == "429" and [call.get("fault") for call in rest] == [None]
    assert rest[0]["time"] - first["time"] >= 2  # exactly Telegram's retry_after, not sooner

    closed = fake_telegram.wait_for_bot_message(user["telegram_id"], lambda m: m["edited"], timeout=15)
    assert closed["message_id"] == prompt["message_id"] and closed["reply_markup"] is None
    assert texts.text("outcome_expired", "en") in closed["text"]
    assert kit.session_row(session_pk)["status"] == "expired"
    assert len(fake_telegram.bot_messages(user["telegram_id"])) == 1
    assert len(fake_telegram.calls("editMessageText")) == 1
    assert fake_telegram.invalid_calls() == []
    output = "".join(celery_worker.output)  # type: ignore[attr-defined]
    assert "Traceback" not in output, output
    assert worker_env.telegram_bot_token.get_secret_value() not in output  # httpx would log it in every request URL
