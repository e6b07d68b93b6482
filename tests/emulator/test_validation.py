"""Bot API calls are checked against the spec and Telegram's rules, and refusals logged."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from telegram_emulator.client import EmulatorClient

from .conftest import TOKEN, RawBotApi


def inline(*buttons: dict[str, Any]) -> dict[str, Any]:
    """Return an InlineKeyboardMarkup with one row of buttons."""
    return {"inline_keyboard": [list(buttons)]}


def assert_refused(
    client: EmulatorClient, answer: tuple[int, dict[str, Any]], code: int, description: str
) -> dict[str, Any]:
    """Check Telegram's error shape and the single invalid-log entry; return that entry."""
    status, body = answer
    assert status == code
    assert body == {"ok": False, "error_code": code, "description": description}
    invalid = client.invalid_calls()
    assert len(invalid) == 1, invalid
    assert invalid[0]["description"] == description
    return invalid[0]


INVALID_SEND_MESSAGE_CASES = [
    pytest.param({}, "Bad Request: message text is empty", id="missing-text"),
    pytest.param({"text": "hi", "disable_notification": "yes"},
                 "Bad Request: disable_notification: expected Boolean, got String 'yes'", id="wrong-type"),
    pytest.param({"text": "hi", "reply_markup": inline({"text": "A", "callback_data": "a", "colour": "red"})},
                 'Bad Request: reply_markup.inline_keyboard[0][0]: unknown field "colour" in InlineKeyboardButton',
                 id="unknown-object-field"),
    pytest.param({"text": "hi", "reply_markup": inline({"text": "A", "callback_data": "a", "url": "https://x.org"})},
                 "Bad Request: can't parse inline keyboard button: exactly one of the optional fields must be "
                 "used, got ['callback_data', 'url']", id="two-button-actions"),
    pytest.param({"text": "hi", "reply_markup": inline({"text": "A"})},
                 "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
                 id="no-button-action"),
    pytest.param({"text": "hi", "reply_markup": inline({"text": "A", "callback_data": "x" * 65})},
                 "Bad Request: BUTTON_DATA_INVALID", id="callback-data-65-bytes"),
    pytest.param({"text": "hi", "reply_markup": inline({"text": "A", "callback_data": "é" * 33})},
                 "Bad Request: BUTTON_DATA_INVALID", id="callback-data-66-utf8-bytes"),
    pytest.param({"text": "hi", "reply_markup": inline({"text": "Open", "url": "http://localhost:5000/login"})},
                 "Bad Request: inline keyboard button URL 'http://localhost:5000/login' is invalid",
                 id="localhost-url"),
    pytest.param({"text": "hi", "reply_markup": inline({"text": "Open", "url": "http://127.0.0.1/x"})},
                 "Bad Request: inline keyboard button URL 'http://127.0.0.1/x' is invalid", id="loopback-url"),
    pytest.param({"text": "hi", "reply_markup": inline({"text": "Open", "url": "http://[::1]/x"})},
                 "Bad Request: inline keyboard button URL 'http://[::1]/x' is invalid", id="ipv6-loopback-url"),
    pytest.param({"text": "hi", "parse_mode": "html5"}, "Bad Request: unsupported parse_mode", id="bad-parse-mode"),
    pytest.param({"text": "   "}, "Bad Request: message text is empty", id="blank-text"),
    pytest.param({"text": "x" * 4097}, "Bad Request: message is too long", id="text-too-long"),
    pytest.param({"text": "<b>hi", "parse_mode": "HTML"},
                 "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
                 id="unclosed-html-tag"),
    pytest.param({"text": "Done.", "parse_mode": "MarkdownV2"},
                 "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the "
                 "preceding '\\'", id="markdown-v2-unescaped"),
    pytest.param({"text": "hi", "reply_markup": {"keyboard": [[{"text": "Phone", "request_contact": "yes"}]]}},
                 "Bad Request: reply_markup.keyboard[0][0].request_contact: expected Boolean, got String 'yes'",
                 id="reply-keyboard-wrong-type"),
    pytest.param({"text": "hi", "unknown_thing": "1"},
                 'Bad Request: unknown parameter "unknown_thing" for method sendMessage', id="unknown-parameter"),
]


@pytest.mark.parametrize(("params", "description"), INVALID_SEND_MESSAGE_CASES)
def test_send_message_refusals(
    client: EmulatorClient, bot: RawBotApi, user: dict[str, Any], params: dict[str, Any], description: str
) -> None:
    entry = assert_refused(client, bot.call("sendMessage", chat_id=user["id"], **params), 400, description)
    assert entry["method"] == "sendMessage"
    assert entry["params"]["chat_id"] == user["id"]


def test_missing_chat_id_is_refused(client: EmulatorClient, bot: RawBotApi) -> None:
    entry = assert_refused(client, bot.call("sendMessage", text="hi"), 400, "Bad Request: chat_id is empty")
    assert entry["problems"] == ['parameter "chat_id" is required']


def test_every_problem_is_listed(client: EmulatorClient, bot: RawBotApi) -> None:
    bot.call("sendMessage", text="5", disable_notification="maybe", message_thread_id="x")
    assert client.invalid_calls()[0]["problems"] == [
        'parameter "chat_id" is required',
        "disable_notification: expected Boolean, got String 'maybe'",
        "message_thread_id: expected Integer, got String 'x'",
    ]


def test_union_reports_the_closest_keyboard_type(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    status, body = bot.call("sendMessage", chat_id=user["id"], text="hi", reply_markup={"remove_keyboard": "yes"})
    assert status == 400
    assert body["description"] == "Bad Request: reply_markup.remove_keyboard: expected Boolean, got String 'yes'"


def test_valid_calls_leave_the_invalid_log_empty(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    bot.result("getMe")
    bot.result("sendMessage", chat_id=user["id"], text="Pick", parse_mode="HTML",
               reply_markup=inline({"text": "Yes", "callback_data": "y" * 64}, {"text": "Site", "url": "https://a.io"}))
    bot.result("sendMessage", chat_id=str(user["id"]), text="Phone?", disable_notification=True,
               reply_markup={"keyboard": [[{"text": "Share", "request_contact": True}], ["plain"]],
                             "one_time_keyboard": True, "resize_keyboard": True})
    bot.result("sendMessage", chat_id=user["id"], text="*ok* \\.", parse_mode="MarkdownV2",
               reply_markup={"remove_keyboard": True})
    bot.result("setMyCommands", commands=[{"command": "start", "description": "Log in"}],
               scope={"type": "all_private_chats"}, language_code="en")
    bot.result("setChatMenuButton", menu_button={"type": "commands"})
    bot.result("setMyDescription", description="Logs you in")
    bot.result("setMyShortDescription", short_description="Login bot")
    assert bot.result("getMyCommands", scope={"type": "all_private_chats"}, language_code="en") == [
        {"command": "start", "description": "Log in"}
    ]
    assert bot.result("getMyCommands") == []
    assert client.invalid_calls() == []


def test_bot_command_scope_discriminator_is_checked(client: EmulatorClient, bot: RawBotApi) -> None:
    status, _ = bot.call("setMyCommands", commands=[{"command": "start", "description": "x"}],
                         scope={"type": "everyone"})
    assert status == 400
    assert any('must be "default"' in problem for problem in client.invalid_calls()[0]["problems"])


def test_bad_command_name_is_refused(client: EmulatorClient, bot: RawBotApi) -> None:
    answer = bot.call("setMyCommands", commands=[{"command": "Start", "description": "x"}])
    assert_refused(client, answer, 400, "Bad Request: BOT_COMMAND_INVALID")


def test_bad_token_is_unauthorized(client: EmulatorClient, emulator: Any) -> None:
    with RawBotApi(emulator.url, token="not-a-token") as unauthorized:
        answer = unauthorized.call("getMe")
    assert_refused(client, answer, 401, "Unauthorized")


def test_unknown_method_is_not_found(client: EmulatorClient, bot: RawBotApi) -> None:
    assert_refused(client, bot.call("sendTelepathy", chat_id=1), 404, "Not Found")


def test_unsupported_spec_method_is_refused(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    answer = bot.call("sendDice", chat_id=user["id"])
    assert_refused(client, answer, 400, "Bad Request: method is not supported by the emulator")


def test_method_names_ignore_case_and_accept_json_and_query(
    client: EmulatorClient, emulator: Any, user: dict[str, Any]
) -> None:
    base = f"{emulator.url}/bot{TOKEN}"
    assert httpx.get(f"{base}/getme").json()["result"]["is_bot"] is True
    sent = httpx.post(f"{base}/sendMessage", json={"chat_id": user["id"], "text": "json", "protect_content": True})
    assert sent.json()["result"]["text"] == "json"
    queried = httpx.get(f"{base}/SENDMESSAGE", params={"chat_id": user["id"], "text": "query"})
    assert queried.json()["result"]["text"] == "query"
    assert client.invalid_calls() == []
    assert [call["method"] for call in client.calls()] == ["getMe", "sendMessage", "sendMessage"]


def test_calls_are_logged_with_outcome(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    bot.call("sendMessage", chat_id=user["id"], text="hi")
    bot.call("sendMessage", chat_id=user["id"], text="")
    first, second = client.calls("sendmessage")
    assert first["ok"] is True and "error_code" not in first
    assert second["ok"] is False and second["error_code"] == 400
    assert first["params"] == {"chat_id": user["id"], "text": "hi"}
    assert isinstance(first["time"], float)
