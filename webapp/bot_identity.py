"""The bot's @username for deep links: from settings, else asked once per process via getMe."""

from __future__ import annotations

import logging
import threading

import httpx

from core.errors import ServiceUnavailable
from core.settings import Settings

log = logging.getLogger(__name__)

GET_ME_TIMEOUT_SECONDS = 3.0

_usernames: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def bot_username(settings: Settings) -> str:
    """Return the bot's username, raising ServiceUnavailable when Telegram can't tell us."""
    if settings.telegram_bot_username:
        return settings.telegram_bot_username
    key = (settings.telegram_api_url, settings.telegram_bot_token.get_secret_value())
    with _lock:
        known = _usernames.get(key)
    if known is None:
        # Asked outside the lock: holding it across an HTTP call would stall every other thread
        # (or, under gevent, hang the worker if the lock predates monkey patching).
        known = _ask_get_me(settings)
        with _lock:
            known = _usernames.setdefault(key, known)
    return known


def deep_link(username: str, start_token: str) -> str:
    """Return the t.me link that opens the bot with a start payload."""
    return f"https://t.me/{username}?start={start_token}"


def _ask_get_me(settings: Settings) -> str:
    if not settings.telegram_bot_token.get_secret_value():
        raise ServiceUnavailable("telegram", "neither TELEGRAM_BOT_USERNAME nor TELEGRAM_BOT_TOKEN is set")
    url = f"{settings.telegram_api_url}/bot{settings.telegram_bot_token.get_secret_value()}/getMe"
    try:
        response = httpx.get(url, timeout=GET_ME_TIMEOUT_SECONDS)
        username = response.json()["result"]["username"]
    except Exception as exc:
        # Only the exception's type: its text may contain the URL, and so the bot token.
        log.warning("getMe failed: %s", type(exc).__name__)
        raise ServiceUnavailable("telegram", "getMe failed") from None
    if not isinstance(username, str) or not username:
        raise ServiceUnavailable("telegram", "getMe returned no username")
    return username
