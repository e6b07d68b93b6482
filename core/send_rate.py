"""The bot's send budget towards Telegram, shared through Redis by every process that sends.

Telegram lets a bot send about 30 messages a second overall and answers 429 beyond that. Each
worker process has its own Bot, so only a shared count keeps all of them together under
TELEGRAM_SEND_RATE: a sliding log (a sorted set of send times) allows at most `amount` sends in
any window of the rate's length. Times come from Redis's clock, so every host agrees.

The window is stretched by a small margin: two sends granted exactly one window apart can reach
Telegram closer together than that, after network jitter.

A 429 is Telegram's answer for one chat: `telegram-flood-wait:<chat>` lives as long as its
`retry_after`, and no send to that chat is booked meanwhile. The worker asks about it in the same
script as its turn (one round trip per send).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import limits
import redis

from core.errors import DomainError

KEY = "telegram-send-budget"
FLOOD_WAIT_KEY_PREFIX = "telegram-flood-wait:"
# Small: at the production 30/second it still allows 29.4 sends a second, so 30 logins/s fit
# (Telegram tolerates short bursts over its ~30/s; a stretch of 0.1 s would cap us at 27.3/s).
JITTER_MARGIN_SECONDS = 0.02

# Books the caller's turn: now if the window has room, else the moment the send `amount` places
# before it leaves the window (turns already booked count), so one call per send suffices and
# turns go in the order they were asked for. Any window of the rate's length then holds at most
# `amount` sends. ARGV: window (us), amount, a unique member, the longest wait to book (us).
# KEYS[2], if given: the chat's flood wait, which, while it lives, books nothing.
# Returns {the microseconds until the booked turn (0: now), or minus the wait when that is longer
# than the caller would wait (nothing booked); the milliseconds the chat's flood wait has left (0: none)}.
SCRIPT = """
if KEYS[2] then
  local flood_ms = redis.call('PTTL', KEYS[2])
  if flood_ms > 0 then
    return {0, flood_ms}
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local at = now
if count >= amount then
  local blocker = redis.call('ZRANGE', KEYS[1], count - amount, count - amount, 'WITHSCORES')
  at = math.max(now, tonumber(blocker[2]) + window)
end
local wait = at - now
if wait > max_wait then
  return {-wait, 0}
end
redis.call('ZADD', KEYS[1], at, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil((wait + window) / 1000))
return {wait, 0}
"""


class InvalidSendRate(DomainError):
    """TELEGRAM_SEND_RATE is not one rate in the limits library's notation."""


class ChatFloodWait(Exception):
    """Telegram's last 429 for the chat is still in force: no turn was booked."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the chat's flood wait has {seconds:.3f} s left")
        self.seconds = seconds


def flood_wait_key(chat_id: int | str) -> str:
    """Return the key that, while it lives, holds every call to a chat (Telegram's 429 for it)."""
    return f"{FLOOD_WAIT_KEY_PREFIX}{chat_id}"


@dataclass(frozen=True)
class SendRate:
    """At most `amount` sends in any `window_seconds`."""

    amount: int
    window_seconds: float


def parse(text: str) -> SendRate:
    """Return the rate of a text such as '25/second' (the limits library's notation)."""
    try:
        items = limits.parse_many(text)
    except ValueError:
        items = []
    if len(items) != 1 or items[0].amount < 1:
        raise InvalidSendRate(f"not one positive rate limit: {text!r}")
    return SendRate(amount=items[0].amount, window_seconds=float(items[0].get_expiry()))


def key_for(bot_token: str) -> str:
    """Return the Redis key of a bot's budget: Telegram counts per bot (the token's public id part)."""
    return f"{KEY}:{bot_token.split(':', 1)[0]}"


class SendBudget:
    """The shared budget: book a turn before each call that sends a message, then send at that turn."""

    def __init__(self, client: redis.Redis, rate: SendRate, key: str) -> None:
        self.rate = rate
        self.key = key
        self._script = client.register_script(SCRIPT)
        self._window_us = int((rate.window_seconds + JITTER_MARGIN_SECONDS) * 1_000_000)

    def try_acquire(self) -> float:
        """Take one send if the budget allows it now: return 0.0, else the seconds until it does."""
        wait = self.book(max_wait=0.0)
        return 0.0 if wait == 0 else -wait

    def book(self, max_wait: float, chat_id: int | str | None = None) -> float:
        """Book the next turn if it comes within `max_wait` s: return the seconds until it (0.0: now).

        A turn further away is not booked: then minus the seconds until it. With `chat_id`, a
        flood wait of that chat in force books nothing and raises ChatFloodWait (same round trip).
        """
        keys = [self.key] if chat_id is None else [self.key, flood_wait_key(chat_id)]
        # A unique member: two sends in the same microsecond must both count.
        wait_us, flood_ms = self._script(keys=keys, args=[self._window_us, self.rate.amount, uuid.uuid4().hex,
                                                          int(max_wait * 1_000_000)])
        if int(flood_ms) > 0:
            raise ChatFloodWait(int(flood_ms) / 1000)
        return int(wait_us) / 1_000_000
