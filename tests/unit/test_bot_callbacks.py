import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from telegram import Chat, Message, Update, User

from botrunner import handlers
from core import prompt_targets, prompts
from core.settings import Settings

SESSION_PK = str(uuid.uuid4())


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "ap",
        "ap:",
        "ap:not-a-uuid",
        f"xx:{SESSION_PK}",
        f"AP:{SESSION_PK}",
        f"ap:{SESSION_PK}:extra",
        f" ap:{SESSION_PK}",
        f"ap:{SESSION_PK}\n",
    ],
)
def test_unparseable_callback_data_is_none(data):
    assert prompts.parse_callback(data) is None


@pytest.mark.parametrize("action", [prompts.APPROVE, prompts.REJECT, prompts.NOT_ME])
def test_callback_data_names_the_action_and_session(action):
    assert prompts.parse_callback(f"{action}:{SESSION_PK}") == prompts.Callback(action, SESSION_PK)


@pytest.mark.parametrize("number", ["10", "47", "99"])
def test_a_number_tap_names_the_session_and_the_number(number):
    assert prompts.parse_callback(f"mt:{SESSION_PK}:{number}") == prompts.Callback(prompts.MATCH, SESSION_PK, number)


@pytest.mark.parametrize(
    "data",
    [
        f"mt:{SESSION_PK}",
        f"mt:{SESSION_PK}:",
        f"mt:{SESSION_PK}:7",
        f"mt:{SESSION_PK}:07",
        f"mt:{SESSION_PK}:100",
        f"mt:{SESSION_PK}:4a",
        f"mt:{SESSION_PK}:٤٧",  # Arabic-Indic digits pass str.isdigit()
        f"mt:{SESSION_PK}:47:1",
        f"nm:{SESSION_PK}:47",
        f"ap:{SESSION_PK.upper()}",
        f"ap:{{{SESSION_PK}}}",
        f"ap:{SESSION_PK.replace('-', '')}",
        f"nm:urn:uuid:{SESSION_PK}",
    ],
)
def test_malformed_number_and_session_parts_are_none(data):
    assert prompts.parse_callback(data) is None


def test_callback_data_fits_telegrams_64_bytes():
    assert len(f"{prompts.APPROVE}:{SESSION_PK}".encode()) <= 64
    assert len(f"{prompts.MATCH}:{SESSION_PK}:99".encode()) <= 64


@pytest.mark.parametrize("token", ["a", "A-z_0" * 12 + "9999", "Zm9vYmFy_-"])
def test_deep_link_payloads_telegram_allows_are_accepted(token):
    assert prompt_targets.START_TOKEN.fullmatch(token)


@pytest.mark.parametrize("token", ["", "x" * 65, "a b", "a+b", "абв", "a/b", "a\n"])
def test_other_payloads_are_refused_before_the_database(token):
    no_database = None
    assert prompt_targets.open_deep_link(no_database, token, 1) == prompt_targets.DeepLinkOutcome(
        prompt_targets.DeepLink.INVALID
    )


def language_for(configured: str, user_language: str | None) -> str:
    user = User(1, "Anna", False, language_code=user_language)
    update = Update(1, message=Message(1, datetime.now(timezone.utc), Chat(1, "private"), from_user=user, text="hi"))
    context = SimpleNamespace(bot_data={"settings": Settings(bot_default_language=configured)})
    return handlers.language_of(update, context)


@pytest.mark.parametrize(
    ("configured", "user_language", "expected"),
    [
        ("ru", "en", "en"),
        ("ru", "en-GB", "en"),
        ("en", "ru", "ru"),
        ("en", "ru-RU", "ru"),
        ("ru", "ru", "ru"),
        ("ru", "de", "ru"),
        ("en", "de", "en"),
        ("ru", None, "ru"),
        ("en", None, "en"),
        ("auto", "de", "en"),
        ("auto", None, "en"),
    ],
)
def test_replies_speak_the_users_language_else_the_default(configured, user_language, expected):
    assert language_for(configured, user_language) == expected
