"""`--telegram-limits`: the emulator answers 429 with retry_after where Telegram would, and only there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from telegram_emulator.flood_limits import FloodLimiter, Limits

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Clock:
    """A hand-moved clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bot_sends_30_new_messages_a_second_then_gets_retry_after():
    clock = Clock()
    limiter = FloodLimiter(Limits(per_chat=1000), clock=clock)

    assert [limiter.retry_after("sendMessage", chat) for chat in range(30)] == [0] * 30
    assert limiter.retry_after("sendMessage", 31) == 1
    clock.now += 0.5  # half a second refills 15 of them
    assert [limiter.retry_after("sendMessage", chat) for chat in range(15)] == [0] * 15
    assert limiter.retry_after("sendMessage", 99) == 1


def test_a_steady_30_a_second_never_waits():
    clock = Clock()
    limiter = FloodLimiter(Limits(per_chat=1000), clock=clock)
    for n in range(300):
        clock.now += 1 / 30
        assert limiter.retry_after("sendMessage", n) == 0


def test_edits_and_answers_dont_count_towards_the_bots_limit_but_edits_count_per_chat():
    clock = Clock()
    limiter = FloodLimiter(Limits(per_bot=1, per_chat=2, per_chat_window=5.0), clock=clock)

    assert limiter.retry_after("sendMessage", 7) == 0
    assert limiter.retry_after("editMessageText", 8) == 0  # another chat: the bot's budget is untouched by edits
    assert limiter.retry_after("answerCallbackQuery", 7) == 0
    assert limiter.retry_after("editMessageText", 7) == 0
    assert limiter.retry_after("editMessageText", 7) == 5  # two in this chat within 5 s
    clock.now += 5.0
    assert limiter.retry_after("editMessageText", 7) == 0


def test_a_refused_call_is_not_counted():
    clock = Clock()
    limiter = FloodLimiter(Limits(per_bot=1, per_chat=100), clock=clock)
    assert limiter.retry_after("sendMessage", 1) == 0
    for _ in range(5):
        assert limiter.retry_after("sendMessage", 1) == 1
    clock.now += 1.0
    assert limiter.retry_after("sendMessage", 1) == 0


def test_the_server_answers_like_telegram_over_keep_alive_connections():
    process = subprocess.Popen(
        [sys.executable, "-m", "telegram_emulator", "--host", "127.0.0.1", "--port", "0", "--telegram-limits"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        with httpx.Client(base_url=url) as http:
            user = http.post("/control/users", json={"first_name": "Flood"}).json()
            http.post("/control/send_message", json={"user_id": user["id"], "text": "/start"})
            api = "/bot42:abcdefghijklmnopqrstuvwxyz/sendMessage"
            answers = [http.post(api, data={"chat_id": user["id"], "text": f"n{n}"}) for n in range(6)]
            assert [a.status_code for a in answers] == [200] * 5 + [429]  # 5 per 5 s in one chat
            refused = answers[-1].json()
            assert refused["parameters"]["retry_after"] >= 1
            assert refused["description"].startswith("Too Many Requests: retry after ")
            # HTTP/1.1 keep-alive: every call above went over one connection.
            assert "close" not in answers[0].headers.get("connection", "").lower()
    finally:
        process.terminate()
        process.communicate(timeout=10)
