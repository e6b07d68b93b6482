"""Command line: `python -m botrunner` receives Telegram updates by long polling."""

from __future__ import annotations

import logging
import sys

from botrunner.app import ALLOWED_UPDATES, build_application
from core.settings import ConfigError, get_settings

log = logging.getLogger("botrunner")

REQUIRED = {
    "DATABASE_URL": "database_url",
    "REDIS_URL": "redis_url",
    "TELEGRAM_BOT_TOKEN": "telegram_bot_token",
}


def main() -> int:
    """Run the bot until interrupted; return the process exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = get_settings()
    except ConfigError as exc:
        log.error("bad configuration: %s", exc)
        return 2
    logging.getLogger().setLevel(settings.log_level)
    # httpx logs every request at INFO (getUpdates every few seconds), its URL carrying the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    missing = [name for name, field in REQUIRED.items() if not getattr(settings, field)]
    if missing:
        log.error("cannot start the bot: %s not set", ", ".join(missing))
        return 2
    if settings.bot_mode != "polling":
        log.error("BOT_MODE=%s is not supported yet: only polling is; unset BOT_MODE or set it to polling",
                  settings.bot_mode)
        return 2
    application = build_application(settings)
    log.info("bot polling %s", settings.telegram_api_url)
    application.run_polling(allowed_updates=ALLOWED_UPDATES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
