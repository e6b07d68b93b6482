"""Telegram failing: retried with backoff, one prompt at most, and a failure the status can admit.

The status may say `"delivery": "failing"` only about Telegram itself, and then for every
pending login alike: a prompt that can't reach one person (they blocked the bot) must look
exactly like a phone that has no account (DESIGN.md: no account enumeration).
"""

from __future__ import annotations


from typing import Any, Iterator

import pytest
import redis

from core import prompt_delivery
from tests.e2e.people import TelegramPerson, prompt_buttons, unique_phone
from tests.faults.invariants import prompt_session_of
from tests.faults.system import FaultSystem, RecordingBrowser, last_message_id, wait_for, wait_for_prompt_after

# With the worker's backoff (1, 2, 4, 8, 16 s, each plus up to 50%), the fifth attempt comes
# 15 to 22.5 s in, and the next wait (16+ s) outlasts what is left: the worker gives up, and the
# login still has 7.5 s or more to say so.
FAILING_TTL_SECONDS = 30


@pytest.fixture
def no_failing_flag(faults: FaultSystem) -> Iterator[None]:
    """Start and end without the "Telegram is failing" flag (it would show in other tests' answers)."""
    client = redis.Redis.from_url(faults.redis.url)
    client.delete(prompt_delivery.FAILING_KEY)
    yield
    client.delete(prompt_delivery.FAILING_KEY)
    client.close()


def prompts_for(person: TelegramPerson) -> list[dict[str, Any]]:
    """Return the live approval prompts (messages with buttons) in a person's chat."""
    return [m for m in person.bot_messages() if prompt_buttons(m)]


def prompt_sends(faults: FaultSystem, chat_id: int) -> list[dict[str, Any]]:
    """Return the attempts to send an approval prompt to one chat, in order."""
    return [
        c
        for c in faults.system.emulator.calls("sendMessage")
        if int(c["params"]["chat_id"]) == chat_id and prompt_session_of(c["params"]) is not None
    ]


def comparable(status: dict[str, Any]) -> dict[str, Any]:
    """Return a pending status answer without its countdown (the only field that may differ)."""
    return {k: v for k, v in status.items() if k != "expires_in"}


@pytest.mark.fault("Telegram answers 500 to every sendMessage")
def test_a_prompt_that_can_never_be_sent_says_so_for_every_login_alike(
    faults: FaultSystem, linked_person: TelegramPerson, no_failing_flag: None
) -> None:
    faults.system.emulator.add_fault("sendMessage", "500", count=20)
    url = faults.system.start_web("web-ttl-30", AUTH_SESSION_TTL=str(FAILING_TTL_SECONDS), WEB_CONCURRENCY="1")
    with faults.system.http(url) as http:
        browser = faults.browser(http)
        started = browser.init(linked_person.phone)
        assert comparable(browser.status(started["session_id"]).json()) == {"status": "pending", "poll_interval": 1}

        failing = wait_for(
            lambda: (body := browser.status(started["session_id"]).json()).get("delivery") and body,
            FAILING_TTL_SECONDS - 2,
            "the status admitting the prompt failed",
            interval=0.5,
        )
        assert failing["status"] == "pending" and failing["delivery"] == "failing"
        # A login for a phone nobody linked answers the same: the flag says nothing about a phone.
        stranger = browser.init(unique_phone())
        assert comparable(browser.status(stranger["session_id"]).json()) == comparable(failing)

    attempts = prompt_sends(faults, linked_person.id)
    assert [c.get("fault") for c in attempts] == ["500"] * 5
    gaps = [b["time"] - a["time"] for a, b in zip(attempts, attempts[1:])]
    assert gaps == sorted(gaps) and gaps[0] >= 1, gaps  # backoff: each wait longer than the last
    assert prompts_for(linked_person) == []
    [row] = faults.sql("SELECT prompt_error FROM auth_sessions WHERE prompt_chat_id IS NULL AND phone_number = %s",
                       (linked_person.phone,))
    assert row["prompt_error"].startswith("session expires before the next try")


@pytest.mark.fault("Telegram times out, answers 500, then 429, then accepts")
def test_timeouts_500s_and_429s_are_retried_into_exactly_one_prompt(
    faults: FaultSystem, browser: RecordingBrowser, linked_person: TelegramPerson, no_failing_flag: None
) -> None:
    emulator = faults.system.emulator
    # This chat's calls only: another chat's message (a notice, a late retry) can't take them.
    chat = linked_person.id
    # The "timeout" fault holds the call longer than the worker's 10 s read timeout, then drops it.
    emulator.add_fault("sendMessage", "timeout", delay=12, chat_id=chat)
    emulator.add_fault("sendMessage", "500", chat_id=chat)
    emulator.add_fault("sendMessage", "429", retry_after=1, chat_id=chat)
    seen = last_message_id(linked_person)
    started = browser.init(linked_person.phone)

    prompt = wait_for_prompt_after(linked_person, seen, timeout=40)
    assert [c.get("fault") for c in prompt_sends(faults, linked_person.id)][-4:] == ["timeout", "500", "429", None]
    assert [p["message_id"] for p in prompts_for(linked_person)] == [prompt["message_id"]]
    assert "delivery" not in browser.status(started["session_id"]).json()
    linked_person.tap(prompt, 0)
    assert browser.wait_for_status(started["session_id"], "approved")["tokens"]


@pytest.mark.fault("the person blocked the bot (every prompt refused with 403)")
def test_a_person_who_blocked_the_bot_looks_like_a_phone_without_an_account(
    faults: FaultSystem,
    browser: RecordingBrowser,
    linked_person: TelegramPerson,
    expected_refusals: list[tuple[str, int]],
    no_failing_flag: None,
) -> None:
    expected_refusals.append(("sendMessage", 403))  # Telegram's answer for a blocked bot
    faults.system.emulator.block(linked_person.id)
    blocked = browser.init(linked_person.phone)
    wait_for(
        lambda: faults.sql("SELECT 1 FROM auth_sessions WHERE phone_number = %s AND prompt_error LIKE 'Forbidden%%'",
                           (linked_person.phone,)),
        20,
        "the worker giving up on the blocked chat",
    )
    stranger = browser.init(unique_phone())
    blocked_status = browser.status(blocked["session_id"]).json()
    assert comparable(blocked_status) == comparable(browser.status(stranger["session_id"]).json())
    assert comparable(blocked_status) == {"status": "pending", "poll_interval": 1}
