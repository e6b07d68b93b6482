"""The bot's send budget towards Telegram, shared through Redis by every process that sends.

Telegram lets a bot send about 30 messages a second overall and answers 429 beyond that. Each
worker process has its own Bot, so only a shared count keeps all of them together under
TELEGRAM_SEND_RATE: a sliding log (a sorted set of send times) allows at most `amount` sends in
any window of the rate's length. Times come from Redis's clock, so every host agrees.

The window is stretched by a small margin: two sends granted exactly one window apart can reach
Telegram closer together than that, after network jitter.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import limits
import redis

from core.errors import DomainError

KEY = "telegram-send-budget"
# Small: at the production 30/second it still allows 29.4 sends a second, so 30 logins/s fit
# (Telegram tolerates short bursts over its ~30/s; a stretch of 0.1 s would cap us at 27.3/s).
JITTER_MARGIN_SECONDS = 0.02

# Books the caller's turn: now if the window has room, else the moment the send `amount` places
# before it leaves the window (turns already booked count), so one call per send suffices and
# turns go in the order they were asked for. Any window of the rate's length then holds at most
# `amount` sends. ARGV: window (us), amount, a unique member, the longest wait to book (us).
# Returns the microseconds until the booked turn (0: now), or minus the wait when that is longer
# than the caller would wait (nothing booked).
SCRIPT = """
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
  return -wait
end
redis.call('ZADD', KEYS[1], at, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil((wait + window) / 1000))
return wait
"""


class InvalidSendRate(DomainError):
    """TELEGRAM_SEND_RATE is not one rate in the limits library's notation."""


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

    def book(self, max_wait: float) -> float:
        """Book the next turn if it comes within `max_wait` s: return the seconds until it (0.0: now).

        A turn further away is not booked: then minus the seconds until it.
        """
        # A unique member: two sends in the same microsecond must both count.
        wait_us = int(self._script(keys=[self.key], args=[self._window_us, self.rate.amount, uuid.uuid4().hex,
                                                           int(max_wait * 1_000_000)]))
        return wait_us / 1_000_000
