"""Command line: `python -m botrunner` receives Telegram updates by long polling or by webhook."""

from __future__ import annotations

import logging
import sys

from botrunner import update_dedup, webhook
from botrunner.app import ALLOWED_UPDATES, build_application
from core import database_guard, logs, useragents
from core.settings import ConfigError, get_settings

log = logging.getLogger("botrunner")

# The bot's event loop shares the GIL with the threads that run its database calls and Celery
# publishes (asyncio.to_thread). With CPython's default 5 ms switch interval, the loop waits up to
# that long for the GIL at each hand-off, several per tap: measured (bench login stage, 400 taps),
# the bot's tap-to-commit p99 fell from 51-66 ms to 28-32 ms and tap-to-browser p99 from 83-85 ms
# to 46-52 ms at 0.5 ms. Only the bot mixes a loop with busy threads (gevent web, prefork worker).
GIL_SWITCH_INTERVAL_SECONDS = 0.0005


def main() -> int:
    """Run the bot until interrupted; return the process exit status."""
    logs.configure("INFO")  # until the settings are read: their errors must be seen
    try:
        settings = get_settings()
        settings.ensure_usable("bot")
        database_guard.ensure_safe(settings, "bot")
    except ConfigError as exc:
        for line in str(exc).splitlines():
            log.error("%s", line)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_SECONDS)
    application = build_application(settings)
    update_dedup.install(application)
    useragents.warm_up()  # now, not in the first tap's closing edit
    if settings.bot_mode == "webhook":
        log.info("bot serving its webhook on %s:%s", settings.webhook_listen, settings.webhook_port)
        webhook.run(application, settings, ALLOWED_UPDATES)
    else:
        log.info("bot polling %s", settings.telegram_api_url)
        application.run_polling(allowed_updates=ALLOWED_UPDATES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
