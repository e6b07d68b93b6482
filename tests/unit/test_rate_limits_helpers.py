"""Pure helpers of the limits: poll gaps, Retry-After values, send rates, which Bot API calls send."""

import pytest

from core import send_rate
from telegram_sender.request import is_send
from webapp import rate_limits


@pytest.mark.parametrize(("poll_interval", "gap_ms"), [(1, 500), (2, 1500), (5, 4500)])
def test_a_poll_may_come_half_a_second_early(poll_interval, gap_ms):
    assert rate_limits.poll_gap_ms(poll_interval) == gap_ms


@pytest.mark.parametrize(("wait", "header"), [(0.0, 1), (0.001, 1), (1.0, 1), (1.2, 2), (59.99, 60)])
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(wait, header):
    assert rate_limits.retry_after_seconds(wait) == header


def test_send_rates_are_read_in_rate_limit_notation():
    assert send_rate.parse("25/second") == send_rate.SendRate(25, 1.0)
    assert send_rate.parse("5 per 2 seconds") == send_rate.SendRate(5, 2.0)
    for text in ("", "fast", "0/second", "1/second;10/minute"):
        with pytest.raises(send_rate.InvalidSendRate):
            send_rate.parse(text)


def test_each_bot_has_its_own_budget_key_without_the_secret_part_of_its_token():
    key = send_rate.key_for("123456:secret-part")
    assert key == "telegram-send-budget:123456"
    assert "secret" not in key


@pytest.mark.parametrize(
    ("method", "sends"),
    [
        ("sendMessage", True),
        ("editMessageText", False),
        ("editMessageReplyMarkup", False),
        ("deleteMessage", False),
        ("forwardMessage", True),
        ("copyMessage", True),
        ("getMe", False),
        ("getUpdates", False),
        ("deleteWebhook", False),
        ("setMyCommands", False),
        ("answerCallbackQuery", False),
    ],
)
def test_which_calls_spend_the_send_budget(method, sends):
    assert is_send(f"https://api.telegram.org/bot1:x/{method}") is sends
