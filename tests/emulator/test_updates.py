"""getUpdates: offsets confirm, limits cut, long polls wait just as long as needed."""

from __future__ import annotations

import threading
import time
from typing import Any

from telegram_emulator.client import EmulatorClient

from .conftest import RawBotApi


def update_ids(updates: list[dict[str, Any]]) -> list[int]:
    """Return the ids of updates."""
    return [update["update_id"] for update in updates]


def test_offset_confirms_and_limit_cuts(client: EmulatorClient, bot: RawBotApi) -> None:
    user = client.create_user(first_name="Bo")
    sent = [client.send_message(user["id"], f"message {n}")["update_id"] for n in range(3)]
    assert update_ids(bot.result("getUpdates", limit=2)) == sent[:2]
    assert update_ids(bot.result("getUpdates")) == sent  # Nothing confirmed yet.
    assert update_ids(bot.result("getUpdates", offset=sent[1])) == sent[1:]
    assert client.pending_updates() == 2
    assert bot.result("getUpdates", offset=sent[2] + 1) == []
    assert client.pending_updates() == 0
    assert client.invalid_calls() == []


def test_negative_offset_keeps_only_the_last_updates(client: EmulatorClient, bot: RawBotApi) -> None:
    user = client.create_user(first_name="Bo")
    sent = [client.send_message(user["id"], f"m{n}")["update_id"] for n in range(3)]
    assert update_ids(bot.result("getUpdates", offset=-1)) == sent[-1:]
    assert client.pending_updates() == 1


def test_update_ids_keep_increasing_across_reset(client: EmulatorClient) -> None:
    user = client.create_user(first_name="Bo")
    before = client.send_message(user["id"], "one")["update_id"]
    client.reset()
    user = client.create_user(first_name="Bo")
    assert client.send_message(user["id"], "two")["update_id"] > before


def test_long_poll_returns_as_soon_as_an_update_arrives(client: EmulatorClient, bot: RawBotApi) -> None:
    user = client.create_user(first_name="Bo")
    sender = threading.Timer(0.3, client.send_message, args=(user["id"], "hello"))
    sender.start()
    started = time.monotonic()
    updates = bot.result("getUpdates", timeout=5)
    elapsed = time.monotonic() - started
    sender.join()  # The poll may return before the sender has read its own answer.
    assert [update["message"]["text"] for update in updates] == ["hello"]
    assert 0.2 < elapsed < 2


def test_long_poll_returns_empty_after_timeout(client: EmulatorClient, bot: RawBotApi) -> None:
    started = time.monotonic()
    assert bot.result("getUpdates", timeout=1) == []
    assert 0.9 < time.monotonic() - started < 2


def test_long_poll_does_not_block_other_calls(client: EmulatorClient, bot: RawBotApi, emulator: Any) -> None:
    with RawBotApi(emulator.url) as other_connection:
        poller = threading.Thread(target=other_connection.call, args=("getUpdates",), kwargs={"timeout": 1})
        poller.start()
        time.sleep(0.1)
        started = time.monotonic()
        bot.result("getMe")
        assert time.monotonic() - started < 0.5
        poller.join()


def test_allowed_updates_filters_and_persists(client: EmulatorClient, bot: RawBotApi) -> None:
    user = client.create_user(first_name="Bo")
    client.send_message(user["id"], "text")
    assert bot.result("getUpdates", allowed_updates=["callback_query"]) == []
    client.send_message(user["id"], "ignored too")
    assert bot.result("getUpdates") == []  # The filter persists, as on Telegram.
    assert bot.result("getUpdates", allowed_updates=[]) == []  # An empty list means all types again.
    client.send_message(user["id"], "wanted")
    assert [update["message"]["text"] for update in bot.result("getUpdates")] == ["wanted"]


def test_get_updates_conflicts_with_a_webhook(client: EmulatorClient, bot: RawBotApi) -> None:
    bot.result("setWebhook", url="https://bot.example.org/hook", secret_token="s3cret")
    info = bot.result("getWebhookInfo")
    assert info["url"] == "https://bot.example.org/hook"
    status, body = bot.call("getUpdates")
    assert status == 409
    assert body["description"] == (
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
    )
    bot.result("deleteWebhook", drop_pending_updates=True)
    assert bot.result("getUpdates") == []
    assert bot.result("getWebhookInfo")["url"] == ""


def test_a_newer_poll_terminates_the_older_one(client: EmulatorClient, bot: RawBotApi, emulator: Any) -> None:
    answers: list[tuple[int, dict[str, Any]]] = []
    with RawBotApi(emulator.url) as other_connection:
        older = threading.Thread(target=lambda: answers.append(other_connection.call("getUpdates", timeout=3)))
        older.start()
        time.sleep(0.2)
        assert bot.result("getUpdates") == []
        older.join(timeout=2)
    assert answers and answers[0][0] == 409
    assert answers[0][1]["description"].startswith("Conflict: terminated by other getUpdates request")
    assert client.invalid_calls() == []  # A superseded poll says nothing about the caller's code.
