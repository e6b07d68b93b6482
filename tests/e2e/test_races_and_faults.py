"""Races with exactly one winner, Telegram failures survived, and expiry, over real processes."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from core import texts
from tests.e2e.people import Browser, TelegramPerson, inline_buttons, prompt_buttons
from tests.e2e.system import BOT_LANGUAGE


def test_ten_simultaneous_taps_have_one_winner(system, browser: Browser, linked_person: TelegramPerson):
    started = browser.init(linked_person.phone)
    prompt = linked_person.wait_for_prompt()
    buttons = inline_buttons(prompt)
    barrier = threading.Barrier(10)

    def tap(i: int) -> None:
        barrier.wait()
        # stale=True: taps still in flight when the winner's edit removed the buttons.
        system.emulator.tap(linked_person.id, prompt["message_id"], callback_data=buttons[i % 2]["callback_data"], stale=True)

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(tap, range(10)))
    answers = linked_person.wait_for_answers(10)
    assert len(answers) == 10  # every tap answered
    final = browser.wait_for_status_in(started["session_id"], ("approved", "rejected"))
    winners = [a for a in answers if a["text"] in (decided_answer("approved"), decided_answer("rejected"))]
    assert len(winners) == 1, answers
    assert winners[0]["text"] == decided_answer(final["status"])
    already = texts.text("answer_already_decided", BOT_LANGUAGE)
    assert [a["text"] for a in answers if a is not winners[0]] == [already] * 9


def decided_answer(status: str) -> str:
    """Return what the bot answers the tap that decided a login."""
    return texts.text(f"answer_{status}", BOT_LANGUAGE)


def test_ten_simultaneous_polls_get_the_tokens_once(system, browser: Browser, linked_person: TelegramPerson):
    started = browser.init(linked_person.phone)
    linked_person.tap(linked_person.wait_for_prompt(), 0)
    linked_person.wait_for_answers(1)
    time.sleep(0.2)  # the decision is committed before the bot answers the tap
    barrier = threading.Barrier(10)

    def poll(_: int) -> httpx.Response:
        with system.http() as http:
            barrier.wait()
            return http.get(f"/api/auth/status/{started['session_id']}")

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(poll, range(10)))
    with_tokens = [r for r in responses if r.status_code == 200 and "tokens" in r.json()]
    assert len(with_tokens) == 1, [(r.status_code, r.text[:80]) for r in responses]
    assert all(r.status_code == 410 for r in responses if r is not with_tokens[0])


def test_telegram_500_and_429_during_the_send_deliver_the_prompt_once(system, browser: Browser, linked_person: TelegramPerson):
    system.emulator.add_fault("sendMessage", "500", chat_id=linked_person.id)
    system.emulator.add_fault("sendMessage", "429", retry_after=1, chat_id=linked_person.id)
    started = browser.init(linked_person.phone)
    prompt = linked_person.wait_for_prompt(timeout=30)
    time.sleep(1.5)  # room for a duplicate to show up, if there were one
    prompts = [m for m in linked_person.bot_messages() if prompt_buttons(m)]
    assert [p["message_id"] for p in prompts] == [prompt["message_id"]]
    faulted = [c for c in system.emulator.calls("sendMessage") if c.get("fault")]
    assert {c["fault"] for c in faulted} >= {"500", "429"}
    linked_person.tap(prompt, 0)
    assert browser.wait_for_status(started["session_id"], "approved")["tokens"]


def test_expiry_with_a_short_ttl_and_a_tap_after_it(system, linked_person: TelegramPerson):
    short_url = system.start_web("web-short-ttl", AUTH_SESSION_TTL="2")
    with system.http(short_url) as http:
        browser = Browser(http)
        started = browser.init(linked_person.phone)
        assert started["expires_in"] == 2
        prompt = linked_person.wait_for_prompt()
        time.sleep(2.2)
        # Expiry is decided from expires_at, whether or not the expiry task has run yet.
        assert browser.status(started["session_id"]).json() == {"status": "expired"}
        expired = system.emulator.wait_for(
            lambda: (m := linked_person.message(prompt["message_id"]))["edited"] and not prompt_buttons(m) and m,
            timeout=15,
        )
        assert expired["text"].endswith(texts.text("outcome_expired", BOT_LANGUAGE))
        # A tap from a phone that still shows the old buttons: refused, answered, nothing changes.
        approve = inline_buttons(prompt)[0]["callback_data"]
        system.emulator.tap(linked_person.id, prompt["message_id"], callback_data=approve, stale=True)
        answer = linked_person.wait_for_answers(1)[-1]
        assert answer["text"] == texts.text("answer_expired", BOT_LANGUAGE)
        assert browser.status(started["session_id"]).json() == {"status": "expired"}


def test_a_tap_after_expiry_before_the_worker_tidied_up(system, linked_person: TelegramPerson):
    """The tap lands after expires_at but before the expiry task edited the prompt."""
    short_url = system.start_web("web-ttl-1", AUTH_SESSION_TTL="1")
    with system.http(short_url) as http:
        browser = Browser(http)
        # Make the worker's expiry edit fail for a while, so the old buttons stay on screen.
        system.emulator.add_fault("editMessageText", "500", count=1)
        started = browser.init(linked_person.phone)
        prompt = linked_person.wait_for_prompt()
        time.sleep(1.2)
        linked_person.tap(prompt, 0)
        answer = linked_person.wait_for_answers(1)[-1]
        assert answer["text"] == texts.text("answer_expired", BOT_LANGUAGE)
        assert browser.status(started["session_id"]).json() == {"status": "expired"}
        closed = system.emulator.wait_for(
            lambda: (m := linked_person.message(prompt["message_id"]))["edited"] and not prompt_buttons(m) and m,
            timeout=20,
        )
        assert closed["text"].endswith(texts.text("outcome_expired", BOT_LANGUAGE))
