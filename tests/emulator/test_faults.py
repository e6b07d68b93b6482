"""Injected faults fire before validation, once each, in order, and are not "invalid"."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from telegram_emulator.client import EmulatorClient, EmulatorError

from .conftest import TOKEN, RawBotApi


def test_500_and_502_are_consumed_once(client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]) -> None:
    client.add_fault("sendMessage", "500")
    client.add_fault("sendmessage", "502")
    assert bot.call("getMe")[0] == 200  # Another method does not consume them.
    assert bot.call("sendMessage", chat_id=user["id"], text="a") == (
        500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}
    )
    assert bot.call("sendMessage", chat_id=user["id"], text="b") == (
        502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
    )
    assert bot.call("sendMessage", chat_id=user["id"], text="c")[0] == 200
    assert [m["text"] for m in client.bot_messages(user["id"])] == ["c"]  # Faulted calls did nothing.
    assert [call.get("fault") for call in client.calls("sendMessage")] == ["500", "502", None]
    assert client.invalid_calls() == []


def test_429_carries_retry_after(client: EmulatorClient, bot: RawBotApi) -> None:
    client.add_fault("*", "429", count=2, retry_after=7)
    expected = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
                "parameters": {"retry_after": 7}}
    assert bot.call("getMe") == (429, expected)
    assert bot.call("sendMessage") == (429, expected)  # Faults fire before validation.
    assert bot.call("getMe")[0] == 200
    assert client.faults() == [] and client.invalid_calls() == []


def test_timeout_holds_the_call_and_does_not_perform_it(
    client: EmulatorClient, emulator: Any, bot: RawBotApi, user: dict[str, Any]
) -> None:
    client.add_fault("sendMessage", "timeout", delay=0.6)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{emulator.url}/bot{TOKEN}/sendMessage", data={"chat_id": str(user["id"]), "text": "lost"},
                   timeout=0.2)
    assert bot.call("sendMessage", chat_id=user["id"], text="delivered")[0] == 200
    client.wait_for(lambda: client.calls("sendMessage")[0].get("fault") == "timeout", timeout=2)
    assert [m["text"] for m in client.bot_messages(user["id"])] == ["delivered"]


def test_slow_performs_the_call_at_once_and_answers_late(
    client: EmulatorClient, emulator: Any, user: dict[str, Any]
) -> None:
    client.add_fault("sendMessage", "slow", delay=0.8)
    answer: list[httpx.Response] = []
    sender = threading.Thread(
        target=lambda: answer.append(
            httpx.post(f"{emulator.url}/bot{TOKEN}/sendMessage", data={"chat_id": str(user["id"]), "text": "late"})
        )
    )
    started = time.monotonic()
    sender.start()
    # The message is in the chat while its sender still waits for the answer.
    client.wait_for(lambda: [m["text"] for m in client.bot_messages(user["id"])] == ["late"], timeout=2)
    assert answer == []
    sender.join(timeout=5)
    assert time.monotonic() - started >= 0.8
    [response] = answer
    assert response.status_code == 200 and response.json()["result"]["text"] == "late"
    assert [(call["ok"], call.get("fault")) for call in client.calls("sendMessage")] == [(True, "slow")]
    assert client.invalid_calls() == []


def test_a_fault_for_one_chat_lets_other_chats_calls_pass(
    client: EmulatorClient, bot: RawBotApi, user: dict[str, Any]
) -> None:
    other = client.create_user(first_name="Other")
    client.send_message(other["id"], "/start")
    client.add_fault("sendMessage", "500", chat_id=user["id"])
    assert bot.call("sendMessage", chat_id=other["id"], text="passes")[0] == 200  # not this chat's fault
    assert bot.call("sendMessage", chat_id=user["id"], text="fails")[0] == 500
    assert bot.call("sendMessage", chat_id=user["id"], text="then passes")[0] == 200
    assert [m["text"] for m in client.bot_messages(user["id"])] == ["then passes"]
    assert client.faults() == []


def test_faults_can_be_listed_and_cleared(client: EmulatorClient) -> None:
    client.add_fault("getUpdates", "502", count=2)
    assert client.faults() == [
        {"method": "getUpdates", "kind": "502", "retry_after": 1, "delay": 10.0, "chat_id": None}
    ] * 2
    client.clear_faults()
    assert client.faults() == []
    with pytest.raises(EmulatorError, match="unknown Bot API method"):
        client.add_fault("sendTelepathy", "500")
    with pytest.raises(EmulatorError, match="kind must be one of"):
        client.add_fault("getMe", "418")
