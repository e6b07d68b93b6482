"""The duplicate-update guard on real Redis: a redelivered update stops, a new one passes."""

from __future__ import annotations

import asyncio
import secrets
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
