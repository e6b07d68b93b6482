import uuid
from datetime import datetime, timezone

import pytest

from core import prompts, texts

CHROME_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


def session(**overrides):
    row = {
        "id": uuid.uuid4(),
        "created_at": datetime(2026, 11, 27, 10, 30, tzinfo=timezone.utc),
        "client_ip": "203.0.113.7",
        "user_agent": CHROME_ON_WINDOWS,
    }
    row.update(overrides)
    return row


def test_prompt_names_site_ip_browser_and_time():
    message = prompts.approval_prompt(session(), "en", "Dance of Mind")
    assert "Dance of Mind" in message.text
    assert "203.0.113.7" in message.text
    assert "Chrome 120" in message.text and "Windows 10" in message.text
    assert "2026-11-27 10:30 UTC" in message.text


def test_simple_prompt_has_one_row_approve_first():
    row = session()
    message = prompts.approval_prompt(row, "ru", "Dance of Mind")
    assert len(message.buttons) == 1
    approve, reject = message.buttons[0]
    assert prompts.parse_callback(approve.callback_data) == prompts.Callback(prompts.APPROVE, str(row["id"]))
    assert prompts.parse_callback(reject.callback_data) == prompts.Callback(prompts.REJECT, str(row["id"]))
    assert approve.label == texts.text("button_approve", "ru")


def test_callback_data_fits_telegram_limit():
    message = prompts.approval_prompt(session(), "en", "x")
    for button in message.buttons[0]:
        assert 1 <= len(button.callback_data.encode()) <= 64


@pytest.mark.parametrize("data", [None, "", "ap", "ap:", "ap:not-a-uuid", "xx:" + str(uuid.uuid4()), "ap:" + str(uuid.uuid4()) + "x"])
def test_foreign_callback_data_is_ignored(data):
    assert prompts.parse_callback(data) is None


@pytest.mark.parametrize("status", ["approved", "consumed", "rejected", "expired", "cancelled"])
def test_closed_prompt_shows_outcome_and_no_buttons(status):
    message = prompts.closed_prompt(session(), status, "en", "Dance of Mind")
    assert message.buttons == ()
    expected = texts.text("outcome_approved" if status == "consumed" else f"outcome_{status}", "en")
    assert message.text.endswith(expected)
    assert "203.0.113.7" in message.text


def test_unknown_client_is_said_so():
    message = prompts.approval_prompt(session(client_ip=None, user_agent=None), "en", "x")
    assert message.text.count(texts.text("unknown_value", "en")) == 2


def test_every_text_exists_in_both_languages():
    for key, variants in texts.TEXTS.items():
        assert set(variants) == set(texts.SUPPORTED_LANGUAGES), key


@pytest.mark.parametrize(
    "configured, user_language, expected",
    [("ru", "en", "ru"), ("en", "ru", "en"), ("auto", "ru", "ru"), ("auto", "en-US", "en"), ("auto", "de", "en"), ("auto", None, "en")],
)
def test_language_choice(configured, user_language, expected):
    assert texts.pick_language(configured, user_language) == expected
