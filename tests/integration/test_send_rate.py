"""The send budget towards Telegram, shared through Redis by every worker process: real Redis, the
emulator over HTTP, and the worker's own Bot in separate processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from telegram.error import RetryAfter

from core import send_rate
from core.prompts import Message
from core.settings import Settings, get_settings
from telegram_sender import sender as telegram_client
from telegram_sender.request import SendBudgetSpent, take_turn
from tests.redis_monitor import Command, commands_sent, words

pytest_plugins = ["tests.integration.bot_fixtures"]
# PTB 22 warns that RetryAfter.retry_after will become a timedelta; tasks read it either way.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

PROJECT_ROOT = Path(__file__).resolve().parents[2]

SENDER = textwrap.dedent(
    """
    import sys, time
    from telegram_sender import sender as telegram_client
    from telegram_sender.sender import retry_after_seconds
    from telegram_sender.request import SendBudgetSpent

    chat_id, name, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    for n in range(count):
        while True:
            try:
                telegram_client.run(telegram_client.bot().send_message(chat_id, f"{name} {n}"))
                break
            except SendBudgetSpent as exc:  # what a task does: come back after the wait
                time.sleep(retry_after_seconds(exc))
    telegram_client.shutdown()
    """
)


@pytest.fixture
def chat_id(fake_telegram) -> int:
    """Return the id of a Telegram user who started the bot (so it may write to them)."""
    user = fake_telegram.create_user(first_name="Rate", username="rate_test")
    fake_telegram.send_message(user["id"], "/start")
    return user["id"]


@pytest.fixture
def clean_budget(bot_settings: Settings) -> str:
    """Delete the bot's budget key, so sends of earlier tests don't count; return the key."""
    key = send_rate.key_for(bot_settings.telegram_bot_token.get_secret_value())
    redis.Redis.from_url(bot_settings.redis_url).delete(key)
    return key


def most_in_any_window(times: list[float], window: float) -> int:
    """Return the largest number of `times` inside any half-open window of that length."""
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times)), default=0)


def test_two_worker_processes_together_keep_to_the_rate(bot_settings, fake_telegram, chat_id, clean_budget):
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": bot_settings.database_url,
        "REDIS_URL": bot_settings.redis_url,
        "TELEGRAM_BOT_TOKEN": bot_settings.telegram_bot_token.get_secret_value(),
        "TELEGRAM_API_URL": bot_settings.telegram_api_url,
        "TELEGRAM_SEND_RATE": "5/second",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    started = time.monotonic()
    senders = [
        subprocess.Popen([sys.executable, "-c", SENDER, str(chat_id), name, "10"], cwd=PROJECT_ROOT, env=env)
        for name in ("first", "second")
    ]
    for sender in senders:
        assert sender.wait(timeout=60) == 0
    took = time.monotonic() - started

    sends = [call for call in fake_telegram.calls("sendMessage") if call["ok"]]
    assert len(sends) == 20
    times = [call["time"] for call in sends]
    # 20 sends at 5 a second: four rounds, three full seconds apart at least.
    assert max(times) - min(times) >= 3.0 and took >= 3.0
    assert most_in_any_window(times, 1.0) <= 5


def test_the_window_count_of_this_file_is_right():
    assert most_in_any_window([0.0, 0.1, 0.2, 1.05, 1.1], 1.0) == 3
    assert most_in_any_window([0.0, 0.5, 0.99, 1.0], 1.0) == 3


def test_the_budget_grants_its_amount_then_says_how_long_to_wait(bot_settings, clean_budget):
    budget = send_rate.SendBudget(redis.Redis.from_url(bot_settings.redis_url), send_rate.parse("3/minute"), clean_budget)

    assert [budget.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = budget.try_acquire()
    assert 55 < wait <= 60 + send_rate.JITTER_MARGIN_SECONDS


def test_a_send_that_would_wait_too_long_becomes_a_retry_after(bot_settings, clean_budget):
    budget = send_rate.SendBudget(redis.Redis.from_url(bot_settings.redis_url), send_rate.parse("1/minute"), clean_budget)
    asyncio.run(take_turn(budget))

    with pytest.raises(SendBudgetSpent) as raised:
        asyncio.run(take_turn(budget, max_wait=1.0))
    assert isinstance(raised.value, RetryAfter)  # so tasks retry it like Telegram's own 429


def test_the_worker_bot_waits_for_its_turn_and_reads_are_free(worker_env, fake_telegram, chat_id, clean_budget, monkeypatch):
    monkeypatch.setenv("TELEGRAM_SEND_RATE", "2/second")
    get_settings.cache_clear()
    telegram_client.shutdown()
    bot = telegram_client.bot()
    started = time.monotonic()
    for n in range(3):
        telegram_client.run(bot.send_message(chat_id, f"turn {n}"))
    assert time.monotonic() - started >= 0.9  # the third waited for the window to move on

    # The budget is spent, yet a call that sends nothing goes at once.
    started = time.monotonic()
    telegram_client.run(bot.get_me())
    assert time.monotonic() - started < 0.9


def test_without_redis_sends_go_ahead(caplog):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    budget = send_rate.SendBudget(dead, send_rate.parse("1/minute"), "telegram-send-budget:test")

    asyncio.run(take_turn(budget))
    asyncio.run(take_turn(budget))
    assert "sending without it" in caplog.text


def test_our_own_wait_is_not_taken_for_telegram_flood_control_of_the_chat(worker_env, chat_id):
    from telegram_sender import sender

    flood_key = f"telegram-flood-wait:{chat_id}"
    client = redis.Redis.from_url(worker_env.redis_url)
    with pytest.raises(SendBudgetSpent), sender._flood_control(chat_id):
        raise SendBudgetSpent(timedelta(seconds=5))
    assert not client.exists(flood_key)

    with pytest.raises(RetryAfter), sender._flood_control(chat_id):
        raise RetryAfter(timedelta(seconds=5))  # Telegram's own 429
    assert client.exists(flood_key)


def test_turns_are_booked_in_the_order_asked_one_question_each(bot_settings, clean_budget):
    client = redis.Redis.from_url(bot_settings.redis_url)
    budget = send_rate.SendBudget(client, send_rate.parse("2/second"), clean_budget)
    window = 1 + send_rate.JITTER_MARGIN_SECONDS

    waits = [budget.book(max_wait=5.0) for _ in range(5)]
    # Two now, two when those leave the window, one a window later: each booked by its one call.
    assert waits[:2] == [0.0, 0.0]
    # Each wait counts from its own booking: the 4th's turn is later by as much as its booking was
    # (microseconds either way), so only the window bounds them.
    assert all(window - 0.1 < wait <= window for wait in waits[2:4])
    assert 2 * window - 0.1 < waits[4] <= 2 * window
    assert client.zcard(clean_budget) == 5
    # Further than the caller would wait: nothing booked, minus the wait.
    assert -2 * window - 0.1 < budget.book(max_wait=0.5) < -window + 0.1
    assert client.zcard(clean_budget) == 5


def test_sends_at_their_booked_turns_keep_to_the_rate(bot_settings, clean_budget):
    budget = send_rate.SendBudget(redis.Redis.from_url(bot_settings.redis_url), send_rate.parse("5/second"), clean_budget)

    async def send_at_turn(times: list[float]) -> None:
        await take_turn(budget, off_loop=False)
        times.append(time.monotonic())

    async def many() -> list[float]:
        times: list[float] = []
        await asyncio.gather(*(send_at_turn(times) for _ in range(12)))
        return times

    times = asyncio.run(many())
    assert len(times) == 12 and most_in_any_window(times, 1.0) <= 5
    assert max(times) - min(times) >= 2.0  # 12 at 5 a second: three windows


def about(*keys: str) -> Callable[[Command], bool]:
    """Accept the commands a client sends naming one of `keys`, and SCRIPT LOADs."""

    def accept(command: Command) -> bool:
        said = words(command)
        # What a script runs inside Redis is listed too, as from "lua": no round trip of its own.
        return command["client_type"] != "lua" and (any(key in said for key in keys) or said[:2] == ["SCRIPT", "LOAD"])

    return accept


def test_a_send_asks_redis_once_for_its_turn_and_the_chats_flood_wait(worker_env, fake_telegram, chat_id, clean_budget):
    flood_key = send_rate.flood_wait_key(chat_id)
    telegram_client.shutdown()

    with commands_sent(worker_env.redis_url, about(clean_budget, flood_key)) as sent:
        telegram_client.send(chat_id, Message("one round trip"))
    commands = [words(command) for command in sent]

    assert len(fake_telegram.bot_messages(chat_id)) == 1
    asked = [words for words in commands if words[0] != "SCRIPT"]
    # A script Redis forgot (another test's SCRIPT FLUSH) is loaded and asked again: no cost of a send.
    assert len(asked) == 1 + sum(words[0] == "SCRIPT" for words in commands), commands
    assert [words[0] for words in asked] == ["EVALSHA"] * len(asked)  # no PTTL of its own
    assert all(words[3:5] == [clean_budget, flood_key] for words in asked)


def test_a_send_to_a_chat_on_hold_is_refused_and_books_no_turn(worker_env, fake_telegram, chat_id, clean_budget):
    flood_key = send_rate.flood_wait_key(chat_id)
    client = redis.Redis.from_url(worker_env.redis_url)
    client.set(flood_key, "telegram said 429", px=5000)
    telegram_client.shutdown()

    with pytest.raises(telegram_client.FloodWait) as raised:
        telegram_client.send(chat_id, Message("held back"))

    assert 4 < telegram_client.retry_after_seconds(raised.value) <= 5
    assert fake_telegram.bot_messages(chat_id) == []
    assert client.zcard(clean_budget) == 0
    assert client.get(flood_key) == b"telegram said 429"  # not taken for a new 429 of Telegram's
    client.delete(flood_key)
