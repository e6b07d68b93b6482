"""The worker's Telegram calls: one event loop and one `telegram.Bot` per process, and the sends,
edits and deletes the tasks make with them.

PTB's Bot is async and keeps an HTTP session bound to the loop it first ran on; a fresh loop per
task (`asyncio.run`) leaves that client on a closed loop: "Event loop is closed" (PTB issue 4023).
So each process creates both once (the worker calls `start` in each prefork child; otherwise on
first use), and every call runs its coroutine on that loop.

A 429 is Telegram's answer for one chat: `telegram-flood-wait:<chat>` lives as long as its
`retry_after`, so every call to that chat waits it out, not only the one that got it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import warnings
from datetime import timedelta
from typing import Any, Coroutine, TypeVar

import redis
from telegram import Bot
from telegram.error import BadRequest, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from core import prompts, redis_client
from core.settings import get_settings
from telegram_sender import keyboards
from telegram_sender.request import SendBudgetSpent, rate_limited

log = logging.getLogger(__name__)

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_bot: Bot | None = None
_pid: int | None = None
# A thread pool would otherwise drive one loop from several threads at once.
_lock = threading.RLock()


class FloodWait(RetryAfter):
    """Telegram's last 429 for this chat is still in force: wait before calling at all."""


def retry_after_seconds(exc: RetryAfter) -> float:
    """Return the wait Telegram asked for, whether PTB gives it as seconds or a timedelta."""
    with warnings.catch_warnings():
        # PTB 22 warns that the int will become a timedelta; both are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def build_bot() -> Bot:
    """Return a Bot for the configured token and Bot API server, with bounded timeouts and the send budget."""
    settings = get_settings()
    api = settings.telegram_api_url
    return Bot(settings.telegram_bot_token.get_secret_value(), base_url=f"{api}/bot", base_file_url=f"{api}/file/bot",
               request=rate_limited(off_loop=False))  # this loop runs one task's call at a time


def start() -> None:
    """Create this process's event loop and Bot (again after a fork)."""
    global _loop, _bot, _pid
    with _lock:
        _loop = asyncio.new_event_loop()
        _bot = build_bot()
        _pid = os.getpid()


def _ensure_started() -> tuple[asyncio.AbstractEventLoop, Bot]:
    if _loop is None or _bot is None or _pid != os.getpid() or _loop.is_closed():
        start()
    assert _loop is not None and _bot is not None
    return _loop, _bot


def bot() -> Bot:
    """Return this process's Bot (its calls must be awaited through `run`)."""
    with _lock:
        return _ensure_started()[1]


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on this process's loop, initialising the Bot first if needed."""
    with _lock:
        try:
            loop, current = _ensure_started()
        except BaseException:
            coro.close()
            raise
        return loop.run_until_complete(_initialized(current, coro))


async def _initialized(current: Bot, coro: Coroutine[Any, Any, T]) -> T:
    try:
        # Idempotent; retried on the next call if getMe failed (Telegram down at start-up).
        await current.initialize()
    except BaseException:
        coro.close()
        raise
    return await coro


def shutdown() -> None:
    """Close the Bot's HTTP connections and the loop; the next `run` starts afresh."""
    global _loop, _bot, _pid
    with _lock:
        loop, current = _loop, _bot
        _loop = _bot = _pid = None
        if loop is None or loop.is_closed() or current is None:
            return
        try:
            loop.run_until_complete(current.shutdown())
        except Exception:  # noqa: BLE001 - shutting down anyway; say why, don't crash the exit.
            log.warning("telegram client did not shut down cleanly", exc_info=True)
        finally:
            loop.close()


def send(chat_id: int, message: prompts.Message) -> int:
    """Send a message with its buttons to a chat; return its message id."""
    with _flood_control(chat_id):
        sent = run(bot().send_message(chat_id, message.text, reply_markup=keyboards.inline_markup(message)))
    return sent.message_id


def edit(chat_id: int, message_id: int, message: prompts.Message) -> bool:
    """Replace a message's text and buttons; False when Telegram says there is nothing to edit."""
    try:
        with _flood_control(chat_id):
            # Without reply_markup, editMessageText removes the inline keyboard.
            run(bot().edit_message_text(message.text, chat_id=chat_id, message_id=message_id,
                                        reply_markup=keyboards.inline_markup(message)))
    except BadRequest as exc:
        text = str(exc).lower()
        if "not modified" in text or "message to edit not found" in text:
            return False
        raise
    return True


def delete(chat_id: int, message_id: int) -> None:
    """Delete a message the bot sent."""
    run(bot().delete_message(chat_id, message_id))


def _flood_key(chat_id: int) -> str:
    return f"telegram-flood-wait:{chat_id}"


@contextlib.contextmanager
def _flood_control(chat_id: int):
    """Raise FloodWait while Telegram's last 429 for this chat is in force; remember a new 429 for it."""
    try:
        remaining_ms = redis_client.get_redis().pttl(_flood_key(chat_id))
    except redis.RedisError:
        remaining_ms = 0  # Telegram answers 429 again if it must; not worth failing the call for
    if remaining_ms > 0:
        raise FloodWait(timedelta(milliseconds=remaining_ms))
    try:
        yield
    except RetryAfter as exc:
        # SendBudgetSpent is our own wait, not Telegram's answer for this chat.
        if not isinstance(exc, SendBudgetSpent):
            with contextlib.suppress(redis.RedisError):
                redis_client.get_redis().set(_flood_key(chat_id), 1, px=max(1, int(retry_after_seconds(exc) * 1000)))
        raise
