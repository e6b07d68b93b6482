"""Handle each Telegram update once, even when Telegram delivers it twice.

Telegram redelivers an update when our webhook answered late or failed, and a polling bot
restarted before confirming its last batch gets that batch again. The mark lives in Redis, so
it holds across restarts and across several bot instances behind one load balancer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging

import redis
from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, TypeHandler

from core.redis_client import get_redis

log = logging.getLogger(__name__)

# Telegram gives up on an undelivered update after 24 hours: no redelivery comes later.
SEEN_SECONDS = 24 * 60 * 60
# Before every other handler group (0 and up), so a duplicate reaches none of them.
DEDUPE_GROUP = -1


def seen_key(bot_id: int, update: Update) -> str:
    """Return the Redis key marking this update as handled.

    A redelivery is the same update, byte for byte; the digest keeps a different update that
    reuses an id from being dropped (Telegram restarts ids after a quiet week, and a restarted
    Telegram emulator starts them over).
    """
    canonical = json.dumps(update.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return f"update:{bot_id}:{update.update_id}:{digest}"


async def drop_duplicate(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop an update that was handled already; let it through when Redis can't tell."""
    if not isinstance(update, Update):
        return
    key = seen_key(context.bot.id, update)
    settings = context.bot_data.get("settings")
    try:
        first_time = await asyncio.to_thread(lambda: bool(get_redis(settings).set(key, 1, nx=True, ex=SEEN_SECONDS)))
    except redis.RedisError as exc:
        # Failing open: every decision is one atomic UPDATE in Postgres, so a tap handled twice
        # changes nothing, while a tap dropped would leave the person waiting.
        log.warning("event=update_dedupe_unavailable update=%s error=%s", update.update_id, type(exc).__name__)
        return
    if not first_time:
        log.info("event=update_duplicate_ignored update=%s", update.update_id)
        raise ApplicationHandlerStop


def install(application: Application) -> None:
    """Make the application ignore updates it has handled before (polling and webhook alike)."""
    application.add_handler(TypeHandler(Update, drop_duplicate), group=DEDUPE_GROUP)
