"""Whether Telegram has been failing our prompts: one flag for every login, so it tells nothing about a phone.

A prompt that can't reach one person (they blocked the bot, deleted their account) is not
reported: only linked phones get prompts, so saying so would tell a stranger that the number has
an account here. A prompt that failed because Telegram itself failed (5xx, timeouts, 429s until
the login expired) sets this flag instead, and every pending login reports it, linked or not,
until the last login that failed that way would have expired.
"""

from __future__ import annotations

import redis

FAILING_KEY = "telegram-prompts-failing"


def mark_failing(client: redis.Redis, seconds: float) -> None:
    """Make every pending login report failing prompts for the next `seconds` (never for less)."""
    wanted_ms = max(1, int(seconds * 1000))
    if client.pttl(FAILING_KEY) < wanted_ms:  # -2 when absent
        client.set(FAILING_KEY, 1, px=wanted_ms)


def is_failing(client: redis.Redis) -> bool:
    """Tell whether Telegram failed a prompt recently enough for pending logins to say so."""
    return bool(client.exists(FAILING_KEY))
