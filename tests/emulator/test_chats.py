"""Chats behave like Telegram: who may be written to, edits, taps, contacts, answers."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from telegram_emulator.client import EmulatorClient, EmulatorError

from .conftest import BOT_ID, RawBotApi

CONFIRM = {"inline_keyboard": [[{"text": "Confirm", "callback_data": "confirm:1"},
                                {"text": "Help", "url": "https://example.org/help"}]]}
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


def test_bot_cannot_write_first(client: EmulatorClient, bot: RawBotApi) -> None:
    user = client.create_user(first_name="Cy")
    status, body = bot.call("sendMessage", chat_id=user["id"], text="hi")
    assert (status, body["description"]) == (403, "Forbidden: bot can't initiate conversation with a user")
    assert bot.call("sendMessage", chat_id=999, text="hi")[1]["description"] == "Bad Request: chat not found"
    client.send_message(user["id"], "hello")
    assert bot.result("sendMessage", chat_id=user["id"], text="hi")["text"] == "hi"
    assert [entry["error_code"] for entry in client.invalid_calls()] == [403, 400]


def test_blocked_bot_is_forbidden(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    client.block(user["id"])
    assert bot.call("sendMessage", chat_id=user["id"], text="hi")[1]["description"] == (
        "Forbidden: bot was blocked by the user"
    )
    client.send_message(user["id"], "/start")  # Restarting the bot unblocks it.
    bot.result("sendMessage", chat_id=user["id"], text="welcome back")


def test_sent_message_is_a_full_telegram_message(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    message = bot.result("sendMessage", chat_id=user["id"], text="Log in?", reply_markup=CONFIRM)
    assert message["message_id"] == 2  # The user's /start was message 1 of this chat.
    assert message["from"] == {"id": BOT_ID, "is_bot": True, "first_name": "Dance of Mind",
                               "username": "dance_of_mind_bot"}
    assert message["chat"] == {"id": user["id"], "type": "private", "first_name": "Ann",
                               "last_name": "Lee", "username": "ann_lee"}
    assert message["reply_markup"] == CONFIRM
    assert isinstance(message["date"], int)
    keyboard = {"keyboard": [[{"text": "Share phone", "request_contact": True}]], "one_time_keyboard": True}
    plain = bot.result("sendMessage", chat_id=user["id"], text="Phone?", reply_markup=keyboard)
    assert "reply_markup" not in plain  # Telegram only echoes inline keyboards...
    assert client.bot_messages(user["id"])[-1]["reply_markup"] == keyboard  # ...but tests can see it.


def test_user_command_gets_an_entity(client: EmulatorClient) -> None:
    user = client.create_user(first_name="Di")
    message = client.send_message(user["id"], "/start abc")["message"]
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert "entities" not in client.send_message(user["id"], "no command")["message"]


def test_edit_without_change_is_not_modified(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    sent = bot.result("sendMessage", chat_id=user["id"], text="Log in?", reply_markup=CONFIRM)
    ids = {"chat_id": user["id"], "message_id": sent["message_id"]}
    status, body = bot.call("editMessageText", text="Log in?", reply_markup=CONFIRM, **ids)
    assert (status, body["description"]) == (400, NOT_MODIFIED)
    status, body = bot.call("editMessageReplyMarkup", reply_markup=CONFIRM, **ids)
    assert (status, body["description"]) == (400, NOT_MODIFIED)
    edited = bot.result("editMessageText", text="Logged in", **ids)
    assert "reply_markup" not in edited and "edit_date" in edited  # No markup given: keyboard removed.
    view = client.bot_messages(user["id"])[-1]
    assert view["edited"] and view["text"] == "Logged in" and view["reply_markup"] is None


def test_edit_of_unknown_message(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    status, body = bot.call("editMessageText", chat_id=user["id"], message_id=77, text="x")
    assert (status, body["description"]) == (400, "Bad Request: message to edit not found")
    status, body = bot.call("editMessageText", chat_id=user["id"], message_id=1, text="x")
    assert body["description"] == "Bad Request: message can't be edited"  # Message 1 is the user's /start.


def test_tap_refuses_a_button_that_was_removed(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    sent = bot.result("sendMessage", chat_id=user["id"], text="Log in?", reply_markup=CONFIRM)
    tapped = client.tap(user["id"], sent["message_id"], callback_data="confirm:1")
    assert tapped["callback_query_id"]
    query = bot.result("getUpdates")[-1]["callback_query"]
    assert query["data"] == "confirm:1" and query["message"]["message_id"] == sent["message_id"]
    assert query["from"]["id"] == user["id"] and query["chat_instance"]
    bot.result("editMessageReplyMarkup", chat_id=user["id"], message_id=sent["message_id"])
    with pytest.raises(EmulatorError) as refused:
        client.tap(user["id"], sent["message_id"], callback_data="confirm:1")
    assert refused.value.status_code == 409
    assert "no inline button" in refused.value.message
    # A phone that has not yet received the edit still shows the button: the tap goes through.
    late = client.tap(user["id"], sent["message_id"], callback_data="confirm:1", stale=True)
    assert bot.result("getUpdates")[-1]["callback_query"]["id"] == late["callback_query_id"]


def test_tap_by_text_and_url_buttons(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    sent = bot.result("sendMessage", chat_id=user["id"], text="Log in?", reply_markup=CONFIRM)
    client.tap(user["id"], sent["message_id"], button_text="Confirm")
    with pytest.raises(EmulatorError, match="no callback_data"):
        client.tap(user["id"], sent["message_id"], button_text="Help")
    with pytest.raises(EmulatorError, match="not from the bot"):
        client.tap(user["id"], 1, button_text="Confirm")
    with pytest.raises(EmulatorError) as unknown_user:
        client.tap(424242, sent["message_id"], button_text="Confirm")
    assert unknown_user.value.status_code == 404


def test_another_user_can_be_made_to_tap(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    sent = bot.result("sendMessage", chat_id=user["id"], text="Log in?", reply_markup=CONFIRM)
    intruder = client.create_user(first_name="Mallory")
    client.tap(intruder["id"], sent["message_id"], callback_data="confirm:1", chat_id=user["id"])
    query = bot.result("getUpdates")[-1]["callback_query"]
    assert query["from"]["id"] == intruder["id"] and query["message"]["chat"]["id"] == user["id"]


def test_callback_answers_are_recorded_once(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    sent = bot.result("sendMessage", chat_id=user["id"], text="Log in?", reply_markup=CONFIRM)
    query_id = client.tap(user["id"], sent["message_id"], callback_data="confirm:1")["callback_query_id"]
    assert bot.result("answerCallbackQuery", callback_query_id=query_id, text="Done", show_alert=True) is True
    status, body = bot.call("answerCallbackQuery", callback_query_id=query_id)
    assert (status, body["description"]) == (
        400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    answers = client.chat(user["id"])["callback_answers"]
    assert answers == [{"callback_query_id": query_id, "text": "Done", "show_alert": True}]


def test_contacts_own_foreign_and_forwarded(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    own = client.share_contact(user["id"], "79001234567")["message"]
    assert own["contact"] == {"phone_number": "79001234567", "first_name": "Ann", "last_name": "Lee",
                              "user_id": user["id"]}
    other = client.create_user(first_name="Eve")
    foreign = client.share_contact(user["id"], "+44 20 7946 0000", contact_user_id=other["id"])["message"]
    assert foreign["contact"]["user_id"] == other["id"] and foreign["contact"]["first_name"] == "Eve"
    card = client.share_contact(user["id"], "+15550100", contact_user_id=None, first_name="Zed")["message"]
    assert card["contact"] == {"phone_number": "+15550100", "first_name": "Zed"}
    forwarded = client.share_contact(user["id"], "+15550101", contact_user_id=other["id"], forwarded=True)
    origin = forwarded["message"]["forward_origin"]
    assert origin["type"] == "user" and origin["sender_user"]["id"] == other["id"]
    updates = bot.result("getUpdates")
    assert [u["message"].get("contact", {}).get("phone_number") for u in updates][-4:] == [
        "79001234567", "+44 20 7946 0000", "+15550100", "+15550101"
    ]
    assert client.chat(user["id"])["messages"][-1]["contact"]["phone_number"] == "+15550101"


def test_reply_and_delete(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    reply = bot.result("sendMessage", chat_id=user["id"], text="ok", reply_parameters={"message_id": 1})
    assert reply["reply_to_message"]["text"] == "/start"
    assert bot.result("deleteMessage", chat_id=user["id"], message_id=reply["message_id"]) is True
    status, body = bot.call("deleteMessage", chat_id=user["id"], message_id=reply["message_id"])
    assert body["description"] == "Bad Request: message to delete not found"
    assert client.chat(user["id"])["messages"][-1]["deleted"] is True
    assert client.bot_messages(user["id"]) == []


def test_user_language_is_english_unless_given_and_may_be_absent_or_change(client: EmulatorClient) -> None:
    assert client.create_user(first_name="Fi")["language_code"] == "en"
    silent = client.create_user(first_name="Gu", language_code=None)
    assert "language_code" not in silent
    assert "language_code" not in client.send_message(silent["id"], "hi")["message"]["from"]
    # The same person, after switching their app to Russian: their next updates say so.
    switched = client.create_user(first_name="Gu", id=silent["id"], language_code="ru")
    assert client.send_message(silent["id"], "hi")["message"]["from"] == switched
    assert switched["language_code"] == "ru" and len(client.users()) == 2


def test_control_api_refuses_bad_requests(client: EmulatorClient) -> None:
    with pytest.raises(EmulatorError, match="first_name"):
        client.create_user(username="nobody")
    with pytest.raises(EmulatorError, match="unknown user"):
        client.send_message(31337, "hi")
    with pytest.raises(EmulatorError, match="unknown fields"):
        client.create_user(first_name="X", nickname="x")
    assert client.create_user(first_name="X", id=5)["id"] == 5
    assert client.chat(123456789) == {"messages": [], "callback_answers": []}


def test_wait_for_bot_message(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    bot.result("sendMessage", chat_id=user["id"], text="Welcome")
    found = client.wait_for_bot_message(user["id"], lambda m: "Welcome" in m["text"], timeout=1)
    assert found["message_id"] == 2
    with pytest.raises(TimeoutError, match="bot messages so far: \\['Welcome'\\]"):
        client.wait_for_bot_message(user["id"], lambda m: "Bye" in m["text"], timeout=0.2)


def test_a_chat_read_can_wait_for_the_bots_next_message(
    client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]
) -> None:
    first = bot.result("sendMessage", chat_id=user["id"], text="first")
    started = time.monotonic()
    sender = threading.Timer(0.3, lambda: bot.result("sendMessage", chat_id=user["id"], text="second"))
    sender.start()
    try:
        chat = client.chat(user["id"], after_message_id=first["message_id"], wait=5)
    finally:
        sender.join()
    assert 0.3 <= time.monotonic() - started < 3  # answered when the message came, not at the timeout
    assert [m["text"] for m in chat["messages"] if m["from_bot"]] == ["first", "second"]
    # Nothing newer: the read answers after `wait` with what there is.
    started = time.monotonic()
    newest = chat["messages"][-1]["message_id"]
    assert len(client.chat(user["id"], after_message_id=newest, wait=0.3)["messages"]) == len(chat["messages"])
    assert time.monotonic() - started >= 0.3
    # A message already newer than `after` answers at once.
    started = time.monotonic()
    client.chat(user["id"], after_message_id=first["message_id"], wait=5)
    assert time.monotonic() - started < 1


def test_a_chat_wait_is_bounded_and_checked(client: EmulatorClient, user: dict[str, Any]) -> None:
    with pytest.raises(EmulatorError, match="wait must be between 0 and 60"):
        client.chat(user["id"], after_message_id=0, wait=61)
    with pytest.raises(EmulatorError, match="after must be an integer"):
        client._request("GET", f"/chats/{user['id']}", params={"after": "x", "wait": 1})
