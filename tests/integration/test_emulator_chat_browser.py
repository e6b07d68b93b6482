"""The emulator's chat page in a real browser, against an in-process emulator and a scripted bot."""

from __future__ import annotations

import time
from typing import Any, Iterator

import httpx
import pytest

from devstack.phone import user_id_for
from telegram_emulator import start_in_thread
from telegram_emulator.server import RunningEmulator
from tests.chromium import browser_context, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")

pytestmark = needs_chromium
TOKEN = "7000001:AAE_chat-page-test-token-0123456789"
TIMEOUT_MS = 10_000


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    """Serve a fresh emulator for one test."""
    running = start_in_thread()
    yield running
    running.shutdown()


@pytest.fixture
def bot(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    """Return the bot's side: a Bot API client of that emulator."""
    with httpx.Client(base_url=f"{emulator.url}/bot{TOKEN}", timeout=10) as client:
        assert client.post("/getMe").json()["ok"]
        yield client


@pytest.fixture
def chat(emulator: RunningEmulator) -> Iterator[tuple[Any, list[str]]]:
    """Open the chat page as the user of +79161234567; yield the page and its JavaScript errors."""
    with browser_context(TIMEOUT_MS) as (context, errors):
        page = context.new_page()
        page.goto(f"{emulator.url}/?phone=%2B79161234567")
        sync_api.expect(page.locator("#current-user")).to_contain_text(str(user_id_for("+79161234567")))
        yield page, errors
        assert errors == [], errors


def _call(bot: httpx.Client, method: str, **params: Any) -> Any:
    body = bot.post(f"/{method}", json=params).json()
    assert body["ok"], body
    return body["result"]


def _updates(bot: httpx.Client, count: int) -> list[dict[str, Any]]:
    """Return the pending updates once there are `count` (the page's requests run on their own)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while len(updates := _call(bot, "getUpdates", timeout=0)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return updates


def test_a_pasted_deep_link_is_sent_as_start_with_its_token(emulator, bot, chat) -> None:
    page, _ = chat
    page.fill("#text", "https://t.me/dance_of_mind_bot?start=abc_DEF-123")
    page.click("#send")
    sync_api.expect(page.locator("#messages .message.user .text")).to_have_text("/start abc_DEF-123")
    [update] = _updates(bot, 1)
    assert update["message"]["text"] == "/start abc_DEF-123"
    assert update["message"]["from"]["id"] == user_id_for("+79161234567")
    assert update["message"]["entities"][0]["type"] == "bot_command"


def test_bot_text_is_shown_as_text_never_as_markup(emulator, bot, chat) -> None:
    page, _ = chat
    page.fill("#text", "/start")
    page.click("#send")
    # The page sends asynchronously: the bot may only write once the user's /start has arrived.
    sync_api.expect(page.locator("#messages .message.user")).to_have_count(1)
    user_id = user_id_for("+79161234567")
    hostile = '<img src=x onerror="document.title=\'pwned\'"><b>bold?</b>\nsecond line'
    _call(bot, "sendMessage", chat_id=user_id, text=hostile)
    message = page.locator("#messages .message.bot .text")
    sync_api.expect(message).to_have_text(hostile)
    assert page.locator("#messages img, #messages b").count() == 0
    assert page.title() != "pwned"


def test_the_contact_button_shares_the_edited_phone_and_buttons_tap(emulator, bot, chat) -> None:
    page, _ = chat
    user_id = user_id_for("+79161234567")
    page.fill("#text", "/start")
    page.click("#send")
    sync_api.expect(page.locator("#messages .message.user")).to_have_count(1)  # /start has arrived
    keyboard = {"keyboard": [[{"text": "Share my number", "request_contact": True}]], "one_time_keyboard": True}
    _call(bot, "sendMessage", chat_id=user_id, text="Your number, please", reply_markup=keyboard)
    page.fill("#user-phone", "79160000001")
    page.locator("#reply-keyboard .request-contact").click()
    sync_api.expect(page.locator("#reply-keyboard")).to_be_hidden()  # one-time keyboard, used
    buttons = {"inline_keyboard": [[{"text": "12", "callback_data": "pick:12"},
                                    {"text": "47", "callback_data": "pick:47"}]]}
    prompt = _call(bot, "sendMessage", chat_id=user_id, text="Is this you?", reply_markup=buttons)
    page.locator("#messages button.inline-button", has_text="47").click()

    updates = _updates(bot, 3)
    contact = updates[1]["message"]["contact"]
    assert contact == {"phone_number": "79160000001", "first_name": "Phone", "user_id": user_id}
    query = updates[2]["callback_query"]
    assert query["data"] == "pick:47" and query["message"]["message_id"] == prompt["message_id"]

    _call(bot, "answerCallbackQuery", callback_query_id=query["id"], text="Approved")
    _call(bot, "editMessageText", chat_id=user_id, message_id=prompt["message_id"], text="Approved!")
    sync_api.expect(page.locator("#popup")).to_have_text("Approved")
    edited = page.locator("#messages .message.bot.edited")
    sync_api.expect(edited).to_contain_text("Approved!")
    sync_api.expect(edited.locator(".inline-button")).to_have_count(0)


def test_another_user_is_created_from_the_form_and_listed(emulator, chat) -> None:
    page, _ = chat
    page.fill("#user-name", "Olga")
    page.fill("#user-id", "555000111")
    page.select_option("#user-language", "ru")
    page.click("#user-save")
    sync_api.expect(page.locator("#current-user")).to_have_text("Olga (id 555000111, ru)")
    page.fill("#text", "hello")
    page.click("#send")
    sync_api.expect(page.locator("#messages .message.user")).to_have_count(1)
    with httpx.Client(base_url=emulator.url) as http:
        users = http.get("/control/users").json()["users"]
        assert {"id": 555000111, "is_bot": False, "first_name": "Olga", "language_code": "ru"} in users
        assert http.get("/control/chats/555000111").json()["messages"][0]["text"] == "hello"
