"""Fixtures of the emulator's own tests; the emulator itself comes from tests/emulator_fixtures.py."""

from __future__ import annotations

import json
from typing import Any, Iterator

import httpx
import pytest

from telegram_emulator.client import EmulatorClient
from telegram_emulator.server import RunningEmulator

BOT_ID = 7000001
TOKEN = f"{BOT_ID}:AAE_test-token-0123456789abcdef"


class RawBotApi:
    """Calls the Bot API the way PTB does: form-encoded, non-strings JSON-encoded."""

    def __init__(self, base_url: str, token: str = TOKEN) -> None:
        self.http = httpx.Client(base_url=f"{base_url}/bot{token}", timeout=10)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.http.close()

    def __enter__(self) -> "RawBotApi":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(self, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
        """Return (HTTP status, JSON body) of one call."""
        form = {name: value if isinstance(value, str) else json.dumps(value) for name, value in params.items()}
        response = self.http.post(f"/{method}", data=form)
        return response.status_code, response.json()

    def result(self, method: str, **params: Any) -> Any:
        """Return the result of a call that must succeed."""
        status, body = self.call(method, **params)
        assert status == 200 and body["ok"], body
        return body["result"]


@pytest.fixture
def client(fake_telegram: EmulatorClient) -> EmulatorClient:
    """Return the reset emulator's control client, under the name these tests use."""
    return fake_telegram


@pytest.fixture
def bot(emulator: RunningEmulator, client: EmulatorClient) -> Iterator[RawBotApi]:
    """Return a raw Bot API caller (the emulator is already reset by `client`)."""
    with RawBotApi(emulator.url) as raw:
        yield raw


@pytest.fixture
def user(client: EmulatorClient) -> dict[str, Any]:
    """Return a user who has already written /start to the bot."""
    created = client.create_user(first_name="Ann", last_name="Lee", username="ann_lee")
    client.send_message(created["id"], "/start")
    return created
