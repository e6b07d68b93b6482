"""Telegram's flood limits, as the emulator enforces them when asked (`--telegram-limits`).

Telegram documents two: a bot sends "no more than 30 messages per second or so" to all its chats
together, and "no more than one message per second" in one chat, short bursts allowed. Beyond
them it answers `429 Too Many Requests` with `parameters.retry_after` (whole seconds).

Telegram publishes no algorithm; modelled here: new messages (send*, forward, copy) of the bot
take a token from a bucket of `per_bot` tokens refilled at `per_bot` a second (30 a second
sustained, a burst of 30 after a quiet spell: "or so"); and at most `per_chat` messages, edits
included, go to one chat in any `per_chat_window` seconds. Callback answers, reads and deletes
are never limited. A refused call is not counted.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any, Callable

# Methods that put a new message in a chat: these count towards the per-bot limit.
NEW_MESSAGE_PREFIXES = ("send", "forward", "copy")
# Methods that change a chat: these count towards the per-chat limit.
CHAT_CHANGE_PREFIXES = (*NEW_MESSAGE_PREFIXES, "edit")
# Sends that write no message (a "typing…" status, an invoice's answer) are not limited.
NOT_MESSAGES = frozenset({"sendchataction"})


@dataclass(frozen=True)
class Limits:
    """How many calls Telegram allows in which window."""

    per_bot: int = 30  # tokens a second, and the bucket's size
    per_chat: int = 5
    per_chat_window: float = 5.0


class FloodLimiter:
    """Decides, call by call, whether Telegram would answer 429; thread-safe."""

    def __init__(self, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or Limits()
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(self.limits.per_bot)
        self._refilled_at = clock()
        self._chats: dict[Any, deque[float]] = defaultdict(deque)

    def retry_after(self, method: str, chat_id: Any) -> int:
        """Return 0 and count the call if Telegram would take it now, else the seconds to wait (>= 1)."""
        name = method.lower()
        if name in NOT_MESSAGES or not name.startswith(CHAT_CHANGE_PREFIXES):
            return 0
        new_message = name.startswith(NEW_MESSAGE_PREFIXES)
        limits = self.limits
        with self._lock:
            now = self._clock()
            chat = self._chats[str(chat_id)]
            waits = [_wait(chat, now, limits.per_chat, limits.per_chat_window)]
            if new_message:
                self._tokens = min(limits.per_bot, self._tokens + (now - self._refilled_at) * limits.per_bot)
                self._refilled_at = now
                waits.append(max(0.0, (1 - self._tokens) / limits.per_bot))
            wait = max(waits)
            if wait > 0:
                return max(1, math.ceil(wait))
            chat.append(now)
            if new_message:
                self._tokens -= 1
            return 0


def _wait(times: deque[float], now: float, allowed: int, window: float) -> float:
    """Drop times older than the window; return how long until one more call fits in it (0: now)."""
    while times and times[0] <= now - window:
        times.popleft()
    if len(times) < allowed:
        return 0.0
    return times[len(times) - allowed] + window - now
