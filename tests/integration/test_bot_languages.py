"""Each person gets the bot and the worker in their own Telegram language; BOT_DEFAULT_LANGUAGE only
when that language is neither Russian nor English, or unknown.

Unlike the other bot tests, the bot and the `celery -A tasks worker` here run with the product's
default, BOT_DEFAULT_LANGUAGE=ru.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Any

import pytest
from telegram.ext import Application

from botrunner.app import COMMANDS
from core import texts
from core.settings import Settings
from telegram_emulator.client import EmulatorClient
from tests.integration.bot_helpers import answers, buttons, user_row

if TYPE_CHECKING:
    from tests.integration.bot_fixtures import Kit

pytest_plugins = ["tests.integration.bot_fixtures"]

SITE = "Dance of Mind"


@pytest.fixture
def bot_settings(bot_settings: Settings) -> Settings:
    """Return the bot tests' settings with the product's default language, Russian."""
    return bot_settings.with_overrides(bot_default_language="ru")


def said(fake_telegram: EmulatorClient, chat_id: int, text: str) -> dict[str, Any]:
    """Wait for the bot to say exactly `text` in a chat."""
    return fake_telegram.wait_for_bot_message(chat_id, lambda m: m["text"] == text, timeout=10)


def contains(fake_telegram: EmulatorClient, chat_id: int, text: str) -> dict[str, Any]:
    """Wait for a bot message containing `text` in a chat (the newest, as it now reads)."""
    return fake_telegram.wait_for_bot_message(chat_id, lambda m: text in m["text"], timeout=15)


def prompt_in(fake_telegram: EmulatorClient, chat_id: int, language: str) -> dict[str, Any]:
    """Wait for an approval prompt in `language` (the worker sends it) and return it."""
    question = texts.text("prompt_question", language)
    return fake_telegram.wait_for_bot_message(chat_id, lambda m: question in m["text"] and buttons(m), timeout=15)


def as_if_app_language(fake_telegram: EmulatorClient, person: dict[str, Any], language_code: str | None) -> None:
    """Have the person switch their Telegram app's language: their next updates carry the new one."""
    fields = {key: person[key] for key in ("id", "first_name", "username") if key in person}
    fake_telegram.create_user(**fields, language_code=language_code)


@pytest.mark.parametrize(
    ("telegram_language", "expected"),
    [("en", "en"), ("en-US", "en"), ("ru", "ru"), ("de", "ru"), (None, "ru")],
)
def test_bot_and_worker_speak_the_persons_language_else_the_default(
    celery_worker: subprocess.Popen,
    running_bot: Application,
    kit: Kit,
    fake_telegram: EmulatorClient,
    telegram_language: str | None,
    expected: str,
) -> None:
    person = kit.telegram_user(started=False, language_code=telegram_language)
    assert person.get("language_code") == telegram_language
    chat = person["id"]
    session = kit.new_session("+79161230001")

    fake_telegram.send_message(chat, f"/start {session.row['start_token']}")
    asked = said(fake_telegram, chat, texts.text("start_need_contact", expected))
    [[share]] = asked["reply_markup"]["keyboard"]
    assert share["text"] == texts.text("share_contact_button", expected)

    fake_telegram.share_contact(chat, "79161230001")
    said(fake_telegram, chat, texts.text("linked", expected, phone="+79161230001"))
    prompt = prompt_in(fake_telegram, chat, expected)  # sent by the worker process
    assert texts.text("prompt_title", expected, site=SITE) in prompt["text"]
    approve, reject, not_me = buttons(prompt)
    assert (approve["text"], reject["text"], not_me["text"]) == tuple(
        texts.text(key, expected) for key in ("button_approve", "button_reject", "button_not_me")
    )
    # The worker records the prompt just after Telegram took it.
    assert fake_telegram.wait_for(lambda: kit.session_row(session.row["id"])["prompt_language"]) == expected

    fake_telegram.tap(chat, prompt["message_id"], callback_data=approve["callback_data"])
    [popup] = answers(fake_telegram, chat, 1)
    assert popup["text"] == texts.text("answer_approved", expected)
    closed = contains(fake_telegram, chat, texts.text("logged_in_title", expected, site=SITE))
    assert closed["message_id"] == prompt["message_id"]  # the closing edit is the login notice
    assert [b["text"] for row in closed["reply_markup"]["inline_keyboard"] for b in row] == [
        texts.text("button_end_this_login", expected)
    ]

    fake_telegram.send_message(chat, "/sessions")
    said(fake_telegram, chat, texts.text("no_active_logins", expected))
    fake_telegram.send_message(chat, "/start")
    said(fake_telegram, chat, texts.text("greeting", expected, site=SITE))
    assert user_row(kit.session_row(session.row["id"])["user_id"])["language_code"] == telegram_language
    assert fake_telegram.invalid_calls() == []


def test_the_worker_follows_a_language_the_person_switched_to(
    celery_worker: subprocess.Popen, running_bot: Application, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user = kit.linked_user(language_code="ru")
    chat = user["telegram_id"]
    [person] = [u for u in fake_telegram.users() if u["id"] == chat]

    as_if_app_language(fake_telegram, person, "en")
    first = kit.new_session(user["phone_number"])
    fake_telegram.send_message(chat, f"/start {first.row['start_token']}")
    prompt = prompt_in(fake_telegram, chat, "en")
    assert user_row(user["id"])["language_code"] == "en"

    as_if_app_language(fake_telegram, person, "ru")
    reject = buttons(prompt)[1]
    fake_telegram.tap(chat, prompt["message_id"], callback_data=reject["callback_data"])
    [popup] = answers(fake_telegram, chat, 1)
    assert popup["text"] == texts.text("answer_rejected", "ru")
    # The prompt keeps the language it was written in: an edit doesn't switch it halfway.
    closed = contains(fake_telegram, chat, texts.text("outcome_rejected", "en"))
    assert closed["message_id"] == prompt["message_id"]
    assert user_row(user["id"])["language_code"] == "ru"

    second = kit.new_session(user["phone_number"])
    fake_telegram.send_message(chat, f"/start {second.row['start_token']}")
    prompt_in(fake_telegram, chat, "ru")
    assert fake_telegram.invalid_calls() == []


def test_commands_are_published_in_russian_in_english_and_in_the_default_for_everyone_else(
    running_bot: Application, fake_telegram: EmulatorClient
) -> None:
    published = {c["params"].get("language_code", ""): c["params"]["commands"] for c in fake_telegram.calls("setMyCommands")}
    assert set(published) == {"ru", "en", ""}
    for language_code, language in (("ru", "ru"), ("en", "en"), ("", "ru")):
        assert published[language_code] == [
            {"command": name, "description": texts.text(f"command_{name}", language)} for name in COMMANDS
        ]
    assert fake_telegram.invalid_calls() == []
