"""The duplicate-update guard on real Redis: a redelivered update stops, a new one passes; taps on a prompt are left to their handler."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from telegram import Update
from telegram.ext import ApplicationHandlerStop

from botrunner import update_dedup
from core.settings import Settings
from devstack.services import free_port

BOT_ID = 7000002
SESSION_PK = str(uuid.uuid4())


def an_update(update_id: int, text: str = "/start") -> Update:
    """Return a message update as python-telegram-bot parses it from Telegram's JSON."""
    user = {"id": 42, "is_bot": False, "first_name": "Anna"}
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {"message_id": 7, "date": 1_700_000_000, "chat": {"id": 42, "type": "private"},
                        "from": user, "text": text},
        },
        None,
    )


def context_for(redis_url: str) -> Any:
    """Return the parts of a handler context the guard reads: the bot's id and the settings."""
    return SimpleNamespace(bot=SimpleNamespace(id=BOT_ID), bot_data={"settings": Settings(redis_url=redis_url)})


def handled(update: Update, context: Any) -> bool:
    """Run the guard; tell whether the update goes on to the handlers."""
    try:
        asyncio.run(update_dedup.drop_duplicate(update, context))
    except ApplicationHandlerStop:
        return False
    return True


def test_a_redelivered_update_is_stopped_for_a_day(redis_url):
    update_id = 600_000_000 + secrets.randbelow(1_000_000)
    context = context_for(redis_url)

    assert handled(an_update(update_id), context)
    assert not handled(an_update(update_id), context)  # the same JSON again, as Telegram redelivers
    assert not handled(an_update(update_id), context)

    client = redis.Redis.from_url(redis_url)
    [key] = client.keys(f"update:{BOT_ID}:{update_id}:*")
    assert 86_000 < client.ttl(key) <= 86_400
    client.close()


def test_another_update_reusing_an_id_is_not_a_duplicate(redis_url):
    # A restarted emulator numbers its updates from the start again; Telegram does after a quiet week.
    update_id = 700_000_000 + secrets.randbelow(1_000_000)
    context = context_for(redis_url)
    assert handled(an_update(update_id, "/start"), context)
    assert handled(an_update(update_id, "/sessions"), context)
    assert handled(an_update(update_id + 1, "/start"), context)


def test_another_bot_on_the_same_redis_has_its_own_ids(redis_url):
    update_id = 800_000_000 + secrets.randbelow(1_000_000)
    assert handled(an_update(update_id), context_for(redis_url))
    other_bot = context_for(redis_url)
    other_bot.bot.id = BOT_ID + 1
    assert handled(an_update(update_id), other_bot)


@pytest.mark.timeout(30)
def test_updates_go_through_when_redis_is_down():
    # Failing open: every decision is atomic in Postgres, so handling twice is safe; dropping is not.
    down = context_for(f"redis://127.0.0.1:{free_port()}/0")
    update = an_update(1)
    assert handled(update, down)
    assert handled(update, down)


def a_tap(update_id: int, **changes: Any) -> Update:
    """Return a tap on a prompt's Approve button as python-telegram-bot parses it; `changes` alter its parts."""
    parts = {"query_id": "4300000000001", "user_id": 42, "data": f"ap:{SESSION_PK}", "chat_id": 42,
             "message_id": 17, "date": 1_700_000_000, "text": "Log in to Example?"}
    parts.update(changes)
    user = {"id": parts["user_id"], "is_bot": False, "first_name": "Anna"}
    prompt = {
        "message_id": parts["message_id"], "date": parts["date"], "chat": {"id": parts["chat_id"], "type": "private"},
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Login"}, "text": parts["text"],
        "reply_markup": {"inline_keyboard": [[{"text": "Approve", "callback_data": f"ap:{SESSION_PK}"}]]},
    }
    return Update.de_json(
        {"update_id": update_id,
         "callback_query": {"id": parts["query_id"], "from": user, "message": prompt, "chat_instance": "-42",
                            "data": parts["data"]}},
        None,
    )


def first_delivery(update: Update, redis_url: str) -> bool:
    return update_dedup.first_delivery(Settings(redis_url=redis_url), BOT_ID, update)


def test_a_tap_on_a_prompt_passes_the_guard_for_its_handler_to_check(redis_url):
    update_id = 900_000_000 + secrets.randbelow(1_000_000)
    context = context_for(redis_url)
    assert handled(a_tap(update_id), context)
    assert handled(a_tap(update_id), context)  # handlers.decision checks it, in its own thread trip

    client = redis.Redis.from_url(redis_url)
    assert client.keys(f"update:{BOT_ID}:{update_id}:*") == []
    client.close()


def test_a_tap_on_another_button_passes_the_guard_and_is_checked_there(redis_url):
    update_id = 910_000_000 + secrets.randbelow(1_000_000)
    context = context_for(redis_url)
    account_button = a_tap(update_id, data=f"es:{SESSION_PK}")
    assert handled(account_button, context)
    assert not handled(account_button, context)


def test_a_redelivered_tap_is_a_duplicate_for_a_day(redis_url):
    update_id = 920_000_000 + secrets.randbelow(1_000_000)
    assert first_delivery(a_tap(update_id), redis_url)
    assert not first_delivery(a_tap(update_id), redis_url)

    client = redis.Redis.from_url(redis_url)
    [key] = client.keys(f"update:{BOT_ID}:{update_id}:*")
    assert 86_000 < client.ttl(key) <= 86_400
    client.close()


@pytest.mark.parametrize(
    "change",
    [
        {"query_id": "4300000000002"},
        {"user_id": 43},
        {"data": f"rj:{SESSION_PK}"},
        {"chat_id": 43},
        {"message_id": 18},
        {"date": 1_700_000_001},
    ],
    ids=lambda change: next(iter(change)),
)
def test_another_tap_reusing_an_id_is_not_a_duplicate(redis_url, change):
    # A restarted emulator numbers its updates, taps and messages from the start again.
    update_id = 930_000_000 + secrets.randbelow(1_000_000)
    assert first_delivery(a_tap(update_id), redis_url)
    assert first_delivery(a_tap(update_id, **change), redis_url)


@pytest.mark.timeout(30)
def test_a_tap_goes_through_when_redis_is_down():
    down = f"redis://127.0.0.1:{free_port()}/0"
    assert first_delivery(a_tap(1), down)
    assert first_delivery(a_tap(1), down)
