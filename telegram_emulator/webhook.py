"""Webhook mode: POST each pending update, in order, to the URL the bot registered."""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx

from telegram_emulator import objects
from telegram_emulator.state import EmulatorState

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)  # Telegram keeps retrying; so do we, capped at 5 s.


class WebhookSender(threading.Thread):
    """Background thread delivering updates while a webhook is set."""

    def __init__(self, state: EmulatorState, request_timeout: float = 10.0) -> None:
        super().__init__(name="telegram-emulator-webhook", daemon=True)
        self.state = state
        self.request_timeout = request_timeout

    def run(self) -> None:
        """Deliver updates until the state is closed."""
        failures = 0
        with httpx.Client(timeout=self.request_timeout) as http:
            while True:
                job = self._next_job()
                if job is None:
                    return
                url, secret, update = job
                error = _post_update(http, url, secret, update)
                if error is None:
                    failures = 0
                    self.state.confirm_update(update["update_id"])
                    continue
                failures += 1
                with self.state.changed:
                    self.state.webhook.last_error_date = objects.now()
                    self.state.webhook.last_error_message = error
                    # Wait before retrying, but wake at once on reset, deleteWebhook or close.
                    self.state.changed.wait(RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1])

    def _next_job(self) -> tuple[str, str | None, dict[str, Any]] | None:
        with self.state.changed:
            while not self.state.closed:
                webhook = self.state.webhook
                self.state.drop_unwanted_updates()
                if webhook.url and self.state.pending_updates:
                    return webhook.url, webhook.secret_token, dict(self.state.pending_updates[0])
                self.state.changed.wait()
        return None


def _post_update(http: httpx.Client, url: str, secret: str | None, update: dict[str, Any]) -> str | None:
    headers = {SECRET_HEADER: secret} if secret else {}
    try:
        response = http.post(url, json=update, headers=headers)
    except httpx.HTTPError as exc:
        logger.debug("webhook delivery to %s failed: %r", url, exc)
        return f"Connection failed: {exc}"
    if response.is_success:
        return None
    return f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}"
