"""python-telegram-bot's HTTP transport, taking a turn from the shared send budget before each send.

Sitting under `telegram.Bot` in the worker and under the bot's Application, it covers every send
and edit whoever makes it (prompts, closing edits, notices, the bot's replies), without each call
site having to remember. A call that would wait longer than
MAX_WAIT_SECONDS raises `SendBudgetSpent`, a RetryAfter: the task is retried after that wait, as
after Telegram's own 429, instead of holding a worker process.

If Redis can't be asked, the send goes ahead (logged): the budget is politeness towards Telegram,
which still answers 429 when we overdo it (and tasks honour that), not a security check.

The worker's transport also honours each chat's flood wait (Telegram's last 429 for it), read in
the same script as the turn: a send to a chat on hold raises `FloodWait` and books nothing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import timedelta
from typing import Any, Callable

import redis
from telegram.error import RetryAfter
from telegram.request import RequestData

from core import redis_client, send_rate
from core.settings import Settings, get_settings
from telegram_sender.transport import AiohttpRequest

log = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 3.0
# Methods that put a new message in a chat: what Telegram's ~30 messages/s per bot counts. Edits,
# deletes and callback answers change or answer what a person already has (each login's closing
# edit among them); they are held back only per chat, and our flow sends at most two per login.
SEND_PREFIXES = ("send", "forward", "copy")


class SendBudgetSpent(RetryAfter):
    """Our own send budget is spent for longer than a task should wait: retry after `retry_after`."""


class FloodWait(RetryAfter):
    """Telegram's last 429 for this chat is still in force: wait before calling at all."""


def is_send(url: str) -> bool:
    """Tell whether a Bot API URL calls a method that puts a new message in a chat."""
    method = url.rsplit("/", 1)[-1].split("?", 1)[0].lower()
    return method.startswith(SEND_PREFIXES)


def send_budget(settings: Settings | None = None) -> send_rate.SendBudget:
    """Return the send budget every worker process and the bot share (TELEGRAM_SEND_RATE)."""
    settings = settings or get_settings()
    return send_rate.SendBudget(
        redis_client.get_redis(settings),
        send_rate.parse(settings.telegram_send_rate),
        send_rate.key_for(settings.telegram_bot_token.get_secret_value()),
    )


def rate_limited(settings: Settings | None = None, connection_pool_size: int = 8, off_loop: bool = True,
                 flood_waits: bool = False) -> RateLimitedRequest:
    """Return a transport over the shared send budget, with bounded timeouts.

    `off_loop`: ask the budget from a thread, so an event loop that serves others (the bot's)
    goes on meanwhile; a loop that only runs the call in hand (a worker's) asks it directly.
    `flood_waits`: refuse a send to a chat whose flood wait is in force (`FloodWait`).
    """
    return RateLimitedRequest(functools.partial(send_budget, settings), off_loop=off_loop, flood_waits=flood_waits,
                              connection_pool_size=connection_pool_size,
                              connect_timeout=5, read_timeout=10, write_timeout=10, pool_timeout=5)


class RateLimitedRequest(AiohttpRequest):
    """An AiohttpRequest that waits for the shared send budget before each sending call."""

    def __init__(self, budget: Callable[[], send_rate.SendBudget], off_loop: bool = True, flood_waits: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # A factory, called on first use: the Redis client behind the budget is per process, made after fork.
        self._make_budget = budget
        self._budget: send_rate.SendBudget | None = None
        self._off_loop = off_loop
        self._flood_waits = flood_waits

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None, *args: Any,
                         **kwargs: Any) -> tuple[int, bytes]:
        """Wait for a turn if this call sends, then make it."""
        if is_send(url):
            if self._budget is None:
                # Once per transport, not per call: parsing the rate and hashing the script cost more than the turn.
                self._budget = self._make_budget()
            chat_id = request_data.parameters.get("chat_id") if self._flood_waits and request_data else None
            await take_turn(self._budget, off_loop=self._off_loop, chat_id=chat_id)
        return await super().do_request(url, method, request_data, *args, **kwargs)


async def take_turn(budget: send_rate.SendBudget, max_wait: float = MAX_WAIT_SECONDS, off_loop: bool = True,
                    chat_id: Any = None) -> None:
    """Book a turn from the budget and wait for it; raise SendBudgetSpent rather than wait past `max_wait`.

    One question to Redis per send: the budget books the turn (in the order asked), so waiting
    callers don't wake together to ask again and again. With `chat_id`, the same question reads
    that chat's flood wait: FloodWait while it is in force.
    """
    book = functools.partial(budget.book, max_wait, chat_id)
    try:
        # Off the event loop where it serves others: the bot's loop serves every update while
        # Redis answers (or hangs); Redis's own timeouts bound the direct call.
        wait = await asyncio.to_thread(book) if off_loop else book()
    except send_rate.ChatFloodWait as held:
        raise FloodWait(timedelta(seconds=held.seconds)) from None
    except redis.RedisError as exc:
        log.warning("send budget unavailable (%s); sending without it", type(exc).__name__)
        return
    if wait < 0:
        raise SendBudgetSpent(timedelta(seconds=-wait))
    if wait > 0:
        await asyncio.sleep(wait)
