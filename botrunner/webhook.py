"""Webhook mode: Telegram posts each update to our URL, proving itself with a secret header.

python-telegram-bot's server (tornado) registers the webhook with `setWebhook` (secret
included), answers 403 to any request without the right `X-Telegram-Bot-Api-Secret-Token`,
and queues the rest for the handlers. It speaks plain http on WEBHOOK_LISTEN:WEBHOOK_PORT:
TLS is the reverse proxy's job.
"""

from __future__ import annotations

import urllib.parse

from telegram.ext import Application

from core.settings import Settings


def url_path(webhook_url: str) -> str:
    """Return the path the local server answers on: the public URL's (the proxy passes it on)."""
    return urllib.parse.urlsplit(webhook_url).path.strip("/")


def run(application: Application, settings: Settings, allowed_updates: list[str]) -> None:
    """Register the webhook with Telegram and serve it until the process is stopped."""
    application.run_webhook(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path=url_path(settings.webhook_url),
        webhook_url=settings.webhook_url,
        secret_token=settings.webhook_secret,
        allowed_updates=allowed_updates,
    )
