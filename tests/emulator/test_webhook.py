"""Webhook mode POSTs updates to the bot's URL with the secret header, retrying failures."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from telegram_emulator.client import EmulatorClient

from .conftest import RawBotApi


class WebhookReceiver(ThreadingHTTPServer):
    """A tiny bot endpoint that records deliveries and answers with a chosen status."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.deliveries: list[tuple[dict[str, Any], str | None]] = []
        self.status = 200

    @property
    def url(self) -> str:
        """Return the URL to register with setWebhook."""
        return f"http://127.0.0.1:{self.server_port}/hook"


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: WebhookReceiver

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.deliveries.append((body, self.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass  # Keep test output clean.


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """Serve a webhook endpoint for one test."""
    server = WebhookReceiver()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_updates_are_posted_with_the_secret(client: EmulatorClient, bot: RawBotApi, receiver: WebhookReceiver) -> None:
    user = client.create_user(first_name="Wes")
    bot.result("setWebhook", url=receiver.url, secret_token="hook_secret-1")
    sent = client.send_message(user["id"], "/start")
    client.wait_for(lambda: receiver.deliveries, timeout=3)
    update, secret = receiver.deliveries[0]
    assert update["update_id"] == sent["update_id"] and update["message"]["text"] == "/start"
    assert secret == "hook_secret-1"
    client.wait_for(lambda: client.pending_updates() == 0, timeout=3)
    assert client.invalid_calls() == []


def test_failed_deliveries_are_retried(client: EmulatorClient, bot: RawBotApi, receiver: WebhookReceiver) -> None:
    receiver.status = 500
    user = client.create_user(first_name="Wes")
    bot.result("setWebhook", url=receiver.url)
    client.send_message(user["id"], "hello")
    client.wait_for(lambda: len(receiver.deliveries) >= 2, timeout=3)
    info = bot.result("getWebhookInfo")
    assert info["pending_update_count"] == 1 and "500" in info["last_error_message"]
    receiver.status = 200
    client.wait_for(lambda: client.pending_updates() == 0, timeout=3)
    assert {update["update_id"] for update, _ in receiver.deliveries} == {receiver.deliveries[0][0]["update_id"]}


def test_bad_secret_token_is_refused(client: EmulatorClient, bot: RawBotApi) -> None:
    status, body = bot.call("setWebhook", url="https://bot.example.org/hook", secret_token="no spaces!")
    assert (status, body["description"]) == (400, "Bad Request: secret token contains unallowed characters")
