"""The worker's passkey messages: "🔑 New passkey" when one is added (once), and the clone warning.

Each task takes a passkey id, asks `core` what to send, and makes one call through
`telegram_sender`, with the retries of `TelegramTask`. The "New passkey" message is recorded on
the passkey (a duplicate copy's message is deleted again), as the login notice is on its session.
"""

from __future__ import annotations

import contextlib
import datetime

from celery import Task
from telegram.error import RetryAfter, TelegramError

from core import db, events, passkey_menu, passkeys, prompt_delivery, prompts, redis_client, users
from core.settings import get_settings
from jobs import app
from jobs.passkey_notices import SEND_PASSKEY_ADDED_NOTICE, SEND_PASSKEY_CLONE_NOTICE
from tasks.retry_policy import TelegramTask, retry_after_429
from telegram_sender import sender

PASSKEY_ADDED = "passkey-added"


@app.task(name=SEND_PASSKEY_ADDED_NOTICE, bind=True, base=TelegramTask, failure_event="passkey_notice_failed")
def send_passkey_added_notice(self: Task, passkey_id: str) -> None:
    """Tell the owner in Telegram that a passkey was added to their account, once."""
    with db.transaction() as conn:
        passkey, user = passkeys.added_notice_target(conn, passkey_id)
    if passkey is None or user is None:
        return
    chat_id, settings = user["telegram_id"], get_settings()
    message_id = prompt_delivery.recall_delivery(redis_client.get_redis(), PASSKEY_ADDED, passkey_id, chat_id)
    if message_id is None:
        language = prompts.language_for(user, settings.bot_default_language)
        try:
            message_id = sender.send(chat_id, passkey_menu.added_notice(passkey, language, settings.site_name))
        except RetryAfter as exc:
            retry_after_429(self, exc)
        prompt_delivery.remember_delivery(redis_client.get_redis(), PASSKEY_ADDED, passkey_id, chat_id, message_id)
    with db.transaction() as conn:
        recorded = passkeys.record_added_notice(conn, passkey_id, message_id)
    if not recorded:
        with contextlib.suppress(TelegramError):
            sender.delete(chat_id, message_id)
        return
    events.emit("passkey_notice_sent", passkey=passkey_id, telegram_id=chat_id, message_id=message_id)


@app.task(name=SEND_PASSKEY_CLONE_NOTICE, bind=True, base=TelegramTask, failure_event="passkey_notice_failed")
def send_passkey_clone_notice(self: Task, passkey_id: str) -> None:
    """Warn the owner in Telegram that a sign-in with a copy of their passkey was refused."""
    with db.transaction() as conn:
        passkey = passkeys.get(conn, passkey_id)
        user = users.get(conn, passkey["user_id"]) if passkey else None
    if passkey is None or user is None:
        return  # removed meanwhile: nothing left to warn about
    settings = get_settings()
    language = prompts.language_for(user, settings.bot_default_language)
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        message_id = sender.send(user["telegram_id"], passkey_menu.clone_notice(passkey, language, settings.site_name, now))
    except RetryAfter as exc:
        retry_after_429(self, exc)
    events.emit("passkey_clone_notice_sent", passkey=passkey_id, telegram_id=user["telegram_id"], message_id=message_id)
