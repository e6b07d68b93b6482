"""The spec checker understands arrays, unions, subtypes, placeholders and form encoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from telegram_emulator.errors import BotApiError
from telegram_emulator.spec import BotApiSpec, default_spec_path, load_default_spec


@pytest.fixture(scope="module")
def spec() -> BotApiSpec:
    """Return the Bot API spec the emulator carries."""
    return load_default_spec()


def test_the_spec_is_the_projects_own_copy() -> None:
    project_root = Path(__file__).resolve().parents[2]
    path = default_spec_path()
    assert path == project_root / "telegram_emulator" / "bot_api_spec" / "api.json"
    assert (path.parent / "LICENSE").read_text().startswith("MIT License")
    assert load_default_spec().version == "Bot API 10.1"


def test_form_values_are_decoded_by_spec_type(spec: BotApiSpec) -> None:
    decoded = spec.decode_params("sendMessage", {
        "chat_id": "123", "text": "42", "disable_notification": "true", "reply_markup": '{"remove_keyboard": true}',
    })
    assert decoded == {"chat_id": 123, "text": "42", "disable_notification": True,
                       "reply_markup": {"remove_keyboard": True}}
    assert spec.decode_params("sendMessage", {"chat_id": "@channel"})["chat_id"] == "@channel"


def test_method_names_ignore_case(spec: BotApiSpec) -> None:
    assert spec.canonical_method_name("SENDMESSAGE") == "sendMessage"
    assert spec.canonical_method_name("sendTelepathy") is None


@pytest.mark.parametrize(("value", "types", "fits"), [
    (1, ["Float"], True),
    (True, ["Integer"], False),
    (1.5, ["Integer"], False),
    ([[1, 2], [3]], ["Array of Array of Integer"], True),
    ([[1, "2"]], ["Array of Array of Integer"], False),
    ({"type": "chat", "chat_id": 5}, ["BotCommandScope"], True),
    ({"type": "chat"}, ["BotCommandScope"], False),
    ({}, ["CallbackGame"], True),
    ({"x": 1}, ["CallbackGame"], False),
    ("Plain text button", ["KeyboardButton"], True),
    ({"force_reply": True}, ["InlineKeyboardMarkup", "ReplyKeyboardMarkup", "ReplyKeyboardRemove", "ForceReply"],
     True),
])
def test_type_checking(spec: BotApiSpec, value: object, types: list[str], fits: bool) -> None:
    assert (spec.type_problems(value, types, "value") == []) is fits


def test_legacy_reply_parameters_are_tolerated(spec: BotApiSpec) -> None:
    spec.validate_call("sendMessage", {"chat_id": 1, "text": "x", "reply_to_message_id": 3})
    with pytest.raises(BotApiError) as refused:
        spec.validate_call("sendMessage", {"chat_id": 1, "text": "x", "reply_to_message_id": "three"})
    assert refused.value.error_code == 400
