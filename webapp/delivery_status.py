"""The `delivery` field of a pending status answer: "failing" while Telegram fails our prompts.

The same for every pending login, linked or not, so it tells nothing about a phone (see
core/prompt_delivery.py for what sets it, and why a blocked bot is never reported).
"""

from __future__ import annotations

import redis

from core import prompt_delivery, redis_client
from core.settings import Settings

FAILING = "failing"


def pending_fields(settings: Settings) -> dict[str, str]:
    """Return `{"delivery": "failing"}` while Telegram has been failing prompts, else `{}`."""
    try:
        failing = prompt_delivery.is_failing(redis_client.get_redis(settings))
    except redis.RedisError:
        return {}  # the status itself comes from Postgres; this hint is best effort
    return {"delivery": FAILING} if failing else {}
