"""The worker's Telegram calls: one event loop and one `telegram.Bot` per process, and the sends,
edits and deletes the tasks make with them.

PTB's Bot is async and keeps an HTTP session bound to the loop it first ran on; a fresh loop per
task (`asyncio.run`) leaves that client on a closed loop: "Event loop is closed" (PTB issue 4023).
So each process creates both once (the worker calls `start` in each prefork child; otherwise on
first use), and the loop runs in a thread of its own: any thread of the process (a Celery task,
a prompt reader of tasks/prompt_readers.py) hands it a call and waits for that call alone, so
calls from several threads are in flight together instead of queueing for the loop.

A 429 is Telegram's answer for one chat: `telegram-flood-wait:<chat>` (`core/send_rate.py`) lives
as long as its `retry_after`, so every call to that chat waits it out, not only the one that got
it. A send reads it with its send budget's turn (the transport, telegram_sender/request.py); an
edit, which takes no turn, asks on its own.
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

from core import prompts, redis_client, send_rate
from core.settings import get_settings
from telegram_sender import unparsed
from telegram_sender.request import FloodWait, SendBudgetSpent, rate_limited

log = logging.getLogger(__name__)

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_bot: Bot | None = None
_pid: int | None = None
_thread: threading.Thread | None = None
# Guards starting and stopping the loop; the calls themselves run concurrently on it.
_lock = threading.RLock()
# A call that outlives this is a bug or a hung connection: every PTB timeout (connect, read,
# write, pool: 5-10 s) and the send budget's longest wait end well before it.
CALL_TIMEOUT_SECONDS = 60.0


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
    # The budget is asked on the loop itself: one quick Redis round trip, cheaper than a thread
    # trip, and this loop serves only this process's Telegram calls. It also reads the chat's flood wait.
    return Bot(settings.telegram_bot_token.get_secret_value(), base_url=f"{api}/bot", base_file_url=f"{api}/file/bot",
               request=rate_limited(off_loop=False, flood_waits=True))


def start(warm_up: bool = False) -> None:
    """Create this process's event loop, its thread and the Bot (again after a fork).

    `warm_up`: initialise the Bot now (getMe, the HTTP client's first connection) without waiting
    for it, so the first prompt doesn't pay for it; a failure is retried by the first call.
    """
    global _loop, _bot, _pid, _thread
    with _lock:
        _loop = asyncio.new_event_loop()
        _thread = threading.Thread(target=_loop.run_forever, name="telegram-calls", daemon=True)
        _thread.start()
        _bot = build_bot()
        _pid = os.getpid()
        if warm_up:
            asyncio.run_coroutine_threadsafe(_warm_up(_bot), _loop)


async def _warm_up(current: Bot) -> None:
    try:
        await current.initialize()
    except Exception as exc:  # noqa: BLE001 - Telegram unreachable at start: the first call tries again
        log.warning("telegram client could not initialise at start (%s); the first call will retry", type(exc).__name__)


def _ensure_started() -> tuple[asyncio.AbstractEventLoop, Bot]:
    # Not `is_running()`: just after `start`, its thread may not have entered the loop yet, and
    # calls handed over meanwhile simply wait for it; only `shutdown` stops the loop, and it clears it.
    if _loop is None or _bot is None or _pid != os.getpid() or _loop.is_closed():
        start()
    assert _loop is not None and _bot is not None
    return _loop, _bot


def bot() -> Bot:
    """Return this process's Bot (its calls must be awaited through `run`)."""
    with _lock:
        return _ensure_started()[1]


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on this process's loop from any other thread and wait for its result,
    initialising the Bot first if needed."""
    try:
        with _lock:
            loop, current = _ensure_started()
    except BaseException:
        coro.close()
        raise
    return asyncio.run_coroutine_threadsafe(_initialized(current, coro), loop).result(CALL_TIMEOUT_SECONDS)


async def _initialized(current: Bot, coro: Coroutine[Any, Any, T]) -> T:
    try:
        # Idempotent; retried on the next call if getMe failed (Telegram down at start-up).
        await current.initialize()
    except BaseException:
        coro.close()
        raise
    return await coro


def shutdown() -> None:
    """Close the Bot's HTTP connections, stop the loop and its thread; the next `run` starts afresh."""
    global _loop, _bot, _pid, _thread
    with _lock:
        loop, current, thread, pid = _loop, _bot, _thread, _pid
        _loop = _bot = _pid = _thread = None
        if loop is None or loop.is_closed() or pid != os.getpid():
            return  # nothing started, or a parent's loop whose thread did not survive the fork
        try:
            if current is not None and loop.is_running():
                asyncio.run_coroutine_threadsafe(current.shutdown(), loop).result(10)
        except Exception:  # noqa: BLE001 - shutting down anyway; say why, don't crash the exit.
            log.warning("telegram client did not shut down cleanly", exc_info=True)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(5)
            if not loop.is_running():
                loop.close()


def send(chat_id: int, message: prompts.Message) -> int:
    """Send a message with its buttons to a chat; return its message id."""
    # The chat's flood wait is read with the send's budget turn (FloodWait from the transport).
    with _remembering_flood_wait(chat_id):
        return run(unparsed.send_text(bot(), chat_id, message))


def edit(chat_id: int, message_id: int, message: prompts.Message) -> bool:
    """Replace a message's text and buttons; False when Telegram says there is nothing to edit."""
    try:
        with _flood_control(chat_id):
            # Without reply_markup, editMessageText removes the inline keyboard.
            run(unparsed.edit_text(bot(), chat_id, message_id, message))
    except BadRequest as exc:
        text = str(exc).lower()
        if "not modified" in text or "message to edit not found" in text:
            return False
        raise
    return True


def delete(chat_id: int, message_id: int) -> None:
    """Delete a message the bot sent."""
    run(bot().delete_message(chat_id, message_id))


@contextlib.contextmanager
def _flood_control(chat_id: int):
    """Raise FloodWait while Telegram's last 429 for this chat is in force; remember a new 429 for it."""
    try:
        remaining_ms = redis_client.get_redis().pttl(send_rate.flood_wait_key(chat_id))
    except redis.RedisError:
        remaining_ms = 0  # Telegram answers 429 again if it must; not worth failing the call for
    if remaining_ms > 0:
        raise FloodWait(timedelta(milliseconds=remaining_ms))
    with _remembering_flood_wait(chat_id):
        yield


@contextlib.contextmanager
def _remembering_flood_wait(chat_id: int):
    """Remember a 429 Telegram answers for this chat, so every call to it waits it out."""
    try:
        yield
    except RetryAfter as exc:
        # Our own waits (the send budget's, a flood wait already remembered) are not Telegram's answer.
        if not isinstance(exc, (SendBudgetSpent, FloodWait)):
            with contextlib.suppress(redis.RedisError):
                redis_client.get_redis().set(send_rate.flood_wait_key(chat_id), 1,
                                             px=max(1, int(retry_after_seconds(exc) * 1000)))
        raise
