"""One event loop and one `telegram.Bot` per worker process.

PTB's Bot is async and keeps an httpx client bound to the loop it first ran on; a fresh loop per
task (`asyncio.run`) leaves that client on a closed loop: "Event loop is closed" (PTB issue 4023).
So each prefork child creates both once, on `worker_process_init`, and every task runs its
coroutine on that loop. Without the signal (solo pool, tests) they are created on first use.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any, Coroutine, TypeVar

from celery.signals import worker_process_init, worker_process_shutdown, worker_shutdown
from telegram import Bot

from core import redis_client, send_rate
from core.settings import get_settings
from tasks.telegram_request import RateLimitedRequest

log = logging.getLogger(__name__)
# httpx logs every request at INFO with its URL, and Bot API URLs carry the bot token.
logging.getLogger("httpx").setLevel(logging.WARNING)

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_bot: Bot | None = None
_pid: int | None = None
# A thread pool would otherwise drive one loop from several threads at once.
_lock = threading.RLock()


def build_bot() -> Bot:
    """Return a Bot for the configured token and Bot API server, with bounded timeouts and the send budget."""
    settings = get_settings()
    api = settings.telegram_api_url
    request = RateLimitedRequest(
        send_budget, connection_pool_size=8, connect_timeout=5, read_timeout=10, write_timeout=10, pool_timeout=5
    )
    return Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        request=request,
    )


def send_budget() -> send_rate.SendBudget:
    """Return the send budget every worker process and the bot share (TELEGRAM_SEND_RATE)."""
    settings = get_settings()
    return send_rate.SendBudget(
        redis_client.get_redis(settings),
        send_rate.parse(settings.telegram_send_rate),
        send_rate.key_for(settings.telegram_bot_token.get_secret_value()),
    )


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
        # Idempotent; retried on the next task if getMe failed (Telegram down at start-up).
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


@worker_process_init.connect
def _on_worker_process_init(**_: Any) -> None:
    start()


@worker_process_shutdown.connect
@worker_shutdown.connect  # the solo pool has no child processes: the main process closes its own
def _on_worker_process_shutdown(**_: Any) -> None:
    shutdown()
