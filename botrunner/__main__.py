"""Command line: `python -m botrunner` receives Telegram updates by long polling or by webhook."""

from __future__ import annotations

import logging
import sys

from botrunner import duplicates, webhook
from botrunner.app import ALLOWED_UPDATES, build_application
from core.settings import ConfigError, get_settings

log = logging.getLogger("botrunner")


def main() -> int:
    """Run the bot until interrupted; return the process exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = get_settings()
        settings.ensure_usable("bot")
    except ConfigError as exc:
        for line in str(exc).splitlines():
            log.error("%s", line)
        return 2
    logging.getLogger().setLevel(settings.log_level)
    # httpx logs every request at INFO (getUpdates every few seconds), its URL carrying the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    application = build_application(settings)
    duplicates.install(application)
    if settings.bot_mode == "webhook":
        log.info("bot serving its webhook on %s:%s", settings.webhook_listen, settings.webhook_port)
        webhook.run(application, settings, ALLOWED_UPDATES)
    else:
        log.info("bot polling %s", settings.telegram_api_url)
        application.run_polling(allowed_updates=ALLOWED_UPDATES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
