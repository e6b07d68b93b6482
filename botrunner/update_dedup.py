"""Handle each Telegram update once, even when Telegram delivers it twice.

Telegram redelivers an update when our webhook answered late or failed, and a polling bot
restarted before confirming its last batch gets that batch again. The mark lives in Redis, so
it holds across restarts and across several bot instances behind one load balancer.

A tap on a prompt, the update every login brings, is checked by its own handler
(`handlers.decision`, through `check_in_handler`) in the trip to a thread its transaction makes
anyway; every other update is checked here, before any handler sees it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from typing import Callable

import redis
from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, TypeHandler

from core import prompts
from core.redis_client import get_redis
from core.settings import Settings

log = logging.getLogger(__name__)

# Telegram gives up on an undelivered update after 24 hours: no redelivery comes later.
SEEN_SECONDS = 24 * 60 * 60
# Before every other handler group (0 and up), so a duplicate reaches none of them.
DEDUPE_GROUP = -1


def seen_key(bot_id: int, update: Update) -> str:
    """Return the Redis key marking this update as handled.

    A redelivery is the same update: the same id, the same content. The digest keeps a different
    update that reuses an id from being dropped (a restarted Telegram emulator or self-hosted Bot
    API server numbers its updates from the start again; Telegram itself only after a week without
    updates, when no mark is left).
    """
    return f"update:{bot_id}:{update.update_id}:{fingerprint(update)}"


def fingerprint(update: Update) -> str:
    """Return a digest of what tells this update from any other with the same id.

    A callback query: Telegram's id for the tap, who tapped which button, and the message it sits
    on (chat, id, date); a restarted counter repeats the ids, not the button's data (a prompt's
    names its session) nor the message's date. Not the message's text and keyboard, which a tap
    also carries: serialising them would cost more than the rest of the check and would tell
    nothing these don't. Any other update: its whole content, as canonical JSON.
    """
    query = update.callback_query
    if query is not None:
        on = query.message
        parts: object = [
            "callback_query", query.id, query.from_user.id, query.data, query.chat_instance, query.inline_message_id,
            on.chat.id if on else None, on.message_id if on else None, on.date.timestamp() if on else None,
        ]
    else:
        parts = update.to_dict()
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def first_delivery(settings: Settings | None, bot_id: int, update: Update) -> bool:
    """Mark the update as handled; tell whether this is its first delivery (blocking: call it in a thread).

    True also when Redis can't tell: every decision is one atomic UPDATE in Postgres, so a tap
    handled twice changes nothing, while a tap dropped would leave the person waiting.
    """
    key = seen_key(bot_id, update)
    try:
        first = bool(get_redis(settings).set(key, 1, nx=True, ex=SEEN_SECONDS))
    except redis.RedisError as exc:
        log.warning("event=update_dedupe_unavailable update=%s error=%s", update.update_id, type(exc).__name__)
        return True
    if not first:
        log.info("event=update_duplicate_ignored update=%s", update.update_id)
    return first


def checked_by_handler(update: Update) -> bool:
    """Tell whether the update's handler checks it itself: a tap on a prompt (`handlers.decision`)."""
    query = update.callback_query
    return query is not None and prompts.parse_callback(query.data) is not None


def check_in_handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Callable[[], bool]:
    """Return the check a handler runs in its own thread: True on the update's first delivery.

    Always True in an application without the guard (`install`).
    """
    if not installed(context.application):
        return lambda: True
    return functools.partial(first_delivery, context.bot_data.get("settings"), context.bot.id, update)


async def drop_duplicate(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop an update that was handled already; let it through when Redis can't tell."""
    if not isinstance(update, Update) or checked_by_handler(update):
        return
    settings = context.bot_data.get("settings")
    if not await asyncio.to_thread(first_delivery, settings, context.bot.id, update):
        raise ApplicationHandlerStop


def install(application: Application) -> None:
    """Make the application ignore updates it has handled before (polling and webhook alike)."""
    application.add_handler(TypeHandler(Update, drop_duplicate), group=DEDUPE_GROUP)


def installed(application: Application) -> bool:
    """Tell whether `install` made this application ignore updates handled before."""
    return any(getattr(handler, "callback", None) is drop_duplicate for handler in application.handlers.get(DEDUPE_GROUP, ()))
