"""A request id per Telegram update, so the bot's log lines of one update (and its tasks) share it."""

from __future__ import annotations

import secrets

from telegram import Update
from telegram.ext import ContextTypes

from core import request_ids

# Before every other group (the duplicate check is -1), so all of an update's lines carry the id.
STAMP_GROUP = -2


def id_for(update: object) -> str:
    """Return a fresh request id naming the update (update ids repeat across bots and restarts)."""
    suffix = secrets.token_hex(4)
    return f"tg-{update.update_id}-{suffix}" if isinstance(update, Update) else f"tg-{suffix}"


async def stamp(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Make a new request id current for this update's handling.

    With concurrent updates each update runs in an asyncio task of its own (a copy of the context),
    so the id stays with its update; asyncio.to_thread carries it into the database calls, and
    tasks enqueued there get it in their headers (jobs/log_context.py).
    """
    request_ids.current.set(id_for(update))
