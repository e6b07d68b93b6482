"""Actors of end-to-end tests: a person in Telegram (through the emulator) and a browser (HTTP)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import httpx

from telegram_emulator.client import EmulatorClient

_ids = itertools.count(1)
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"


def unique_phone() -> str:
    """Return a new valid Russian mobile number, unique in this test run."""
    return f"+7926{(int(time.time()) % 1000):03d}{next(_ids):04d}"


class TelegramPerson:
    """A Telegram user with a phone, played through the emulator's control API.

    Their Telegram app speaks Russian unless told otherwise, so the bot answers them in Russian:
    the tests' BOT_LANGUAGE (tests.e2e.system).
    """

    def __init__(self, emulator: EmulatorClient, phone: str | None = None, language_code: str = "ru") -> None:
        self.emulator = emulator
        self.phone = phone or unique_phone()
        self.user = emulator.create_user(first_name="Ivan", last_name="Petrov", username=f"ivan{next(_ids)}", language_code=language_code)
        self.id: int = self.user["id"]

    def bot_messages(self) -> list[dict[str, Any]]:
        """Return the bot's live messages in this person's chat."""
        return self.emulator.bot_messages(self.id)

    def say(self, text: str) -> None:
        """Send a text to the bot."""
        self.emulator.send_message(self.id, text)

    def share_own_contact(self, phone_as_sent: str | None = None) -> None:
        """Share this person's own contact (Telegram sends the number without `+`)."""
        self.emulator.share_contact(self.id, phone_as_sent or self.phone.lstrip("+"))

    def wait_for_text(self, fragment: str, timeout: float = 15) -> dict[str, Any]:
        """Wait for a bot message containing `fragment`."""
        return self.emulator.wait_for_bot_message(self.id, lambda m: fragment in (m["text"] or ""), timeout=timeout)

    def link(self) -> None:
        """Link the phone the way a person does: /start, then share the contact."""
        self.say("/start")
        self.emulator.wait_for_bot_message(self.id, lambda m: _asks_for_contact(m), timeout=15)
        self.share_own_contact()
        self.wait_for_text(self.phone, timeout=15)

    def wait_for_prompt(self, timeout: float = 20) -> dict[str, Any]:
        """Wait for a message with inline buttons (the approval prompt)."""
        return self.emulator.wait_for_bot_message(self.id, prompt_buttons, timeout=timeout)

    def tap(self, message: dict[str, Any], index: int) -> dict[str, Any]:
        """Tap the `index`-th inline button (0 = first) of a message."""
        button = inline_buttons(message)[index]
        return self.emulator.tap(self.id, message["message_id"], callback_data=button["callback_data"])

    def callback_answers(self) -> list[dict[str, Any]]:
        """Return the answers the bot gave to this person's button taps."""
        return self.emulator.chat(self.id)["callback_answers"]

    def wait_for_answers(self, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        """Wait until at least `count` taps were answered."""
        return self.emulator.wait_for(lambda: len(a := self.callback_answers()) >= count and a, timeout=timeout)

    def message(self, message_id: int) -> dict[str, Any]:
        """Return one message of the chat as it is now."""
        return next(m for m in self.emulator.chat(self.id)["messages"] if m["message_id"] == message_id)


def inline_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a message's inline buttons, flattened in reading order."""
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def prompt_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the buttons that make a message an open approval prompt (a decision or "It wasn't me").

    An approved prompt closes as the "you logged in" notice, which keeps one "End this login" button.
    """
    actions = ("ap:", "rj:", "mt:", "nm:")
    return [b for b in inline_buttons(message) if str(b.get("callback_data", "")).startswith(actions)]


def _asks_for_contact(message: dict[str, Any]) -> bool:
    markup = message.get("reply_markup") or {}
    return any(b.get("request_contact") for row in markup.get("keyboard", []) for b in row)


class Browser:
    """The website's frontend, calling our API over HTTP."""

    def __init__(self, http: httpx.Client, user_agent: str = CHROME) -> None:
        self.http = http
        self.headers = {"User-Agent": user_agent}

    def init(self, phone: str) -> dict[str, Any]:
        """Start a login; assert 201 and return the body."""
        response = self.http.post("/api/auth/init", json={"phone_number": phone}, headers=self.headers)
        assert response.status_code == 201, response.text
        return response.json()

    def status(self, session_id: str) -> httpx.Response:
        """Poll the status once."""
        return self.http.get(f"/api/auth/status/{session_id}", headers=self.headers)

    def wait_for_status(self, session_id: str, wanted: str, timeout: float = 15) -> dict[str, Any]:
        """Poll until the status is `wanted`; return that answer."""
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = self.status(session_id)
            body = response.json()
            if response.status_code == 200 and body.get("status") == wanted:
                return body
            assert response.status_code == 200, response.text
            time.sleep(0.1)
        raise AssertionError(f"status never became {wanted}; last answer {body}")

    def wait_for_status_in(self, session_id: str, wanted: tuple[str, ...], timeout: float = 15) -> dict[str, Any]:
        """Poll until the status is one of `wanted`; return that answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.status(session_id).json()
            if body.get("status") in wanted:
                return body
            time.sleep(0.1)
        raise AssertionError(f"status never became one of {wanted}")

    def me(self, access_token: str) -> httpx.Response:
        """Call /api/auth/me with a bearer token."""
        return self.http.get("/api/auth/me", headers={"Authorization": f"Bearer {access_token}"})
