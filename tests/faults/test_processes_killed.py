"""Processes killed or restarted mid-login: the worker mid-send, the bot before a tap, the worker
while logins expire. Each case kills the real process of the Procfile."""

from __future__ import annotations

import signal
import time

import pytest

from core import texts
from tests.e2e.people import TelegramPerson, prompt_buttons
from tests.e2e.system import BOT_LANGUAGE
from tests.faults.system import (
    FaultSystem,
    RecordingBrowser,
    held_send_calls,
    last_message_id,
    wait_for,
    wait_for_closed_prompt,
    wait_for_prompt_after,
)

# Room for a duplicate prompt to show up, if the recovery sent one.
DUPLICATE_WINDOW_SECONDS = 2.0
SHORT_TTL_SECONDS = 4


@pytest.mark.fault("worker SIGKILLed while Telegram holds its sendMessage")
def test_a_worker_killed_mid_send_still_sends_the_prompt_exactly_once(
    faults: FaultSystem, browser: RecordingBrowser, linked_person: TelegramPerson
) -> None:
    # The emulator holds the call (and then drops it, undelivered) while we kill the worker.
    faults.system.emulator.add_fault("sendMessage", "timeout", delay=15, chat_id=linked_person.id)
    seen = last_message_id(linked_person)
    started = browser.init(linked_person.phone)
    wait_for(lambda: held_send_calls(faults, linked_person.id), 15, "the worker inside sendMessage")

    faults.kill("worker", signal.SIGKILL)  # the whole process group: main process and pool children
    faults.start_worker()  # Celery alone would redeliver the unacknowledged task only in an hour

    prompt = wait_for_prompt_after(linked_person, seen, timeout=30)
    time.sleep(DUPLICATE_WINDOW_SECONDS)
    prompts = [m for m in linked_person.bot_messages() if m["message_id"] > seen and prompt_buttons(m)]
    assert [p["message_id"] for p in prompts] == [prompt["message_id"]]
    linked_person.tap(prompt, 0)
    assert browser.wait_for_status(started["session_id"], "approved")["tokens"]


@pytest.mark.fault("bot runner stopped between the prompt and the tap, started again")
def test_a_tap_made_while_the_bot_was_down_is_honoured_after_its_restart(
    faults: FaultSystem, browser: RecordingBrowser, linked_person: TelegramPerson
) -> None:
    seen = last_message_id(linked_person)
    started = browser.init(linked_person.phone)
    prompt = wait_for_prompt_after(linked_person, seen)
    answered = len(linked_person.callback_answers())

    faults.kill("bot", signal.SIGTERM)
    linked_person.tap(prompt, 0)  # Telegram keeps the update until a bot confirms it
    assert faults.system.emulator.pending_updates() >= 1
    assert browser.status(started["session_id"]).json()["status"] == "pending"
    faults.start_bot()

    assert browser.wait_for_status(started["session_id"], "approved")["tokens"]
    answers = linked_person.wait_for_answers(answered + 1)
    assert [a["text"] for a in answers[answered:]] == [texts.text("answer_approved", BOT_LANGUAGE)]
    closed = wait_for_closed_prompt(linked_person, prompt["message_id"])
    assert closed["text"].endswith(texts.text("logged_in_hint", BOT_LANGUAGE))


@pytest.mark.fault("worker SIGKILLed while logins expire")
def test_logins_expire_on_time_without_a_worker_and_their_prompts_close_when_one_returns(
    faults: FaultSystem, person: TelegramPerson
) -> None:
    polled_person, quiet_person = person, TelegramPerson(faults.system.emulator)
    polled_person.link()
    quiet_person.link()
    url = faults.system.start_web("web-short-ttl", AUTH_SESSION_TTL=str(SHORT_TTL_SECONDS), WEB_CONCURRENCY="1")
    with faults.system.http(url) as http:
        browser = faults.browser(http)
        marks = {p.id: last_message_id(p) for p in (polled_person, quiet_person)}
        polled = browser.init(polled_person.phone)
        started_at = time.monotonic()
        browser.init(quiet_person.phone)  # nobody polls this one: only the worker can expire it
        prompts = {p.id: wait_for_prompt_after(p, marks[p.id]) for p in (polled_person, quiet_person)}
        # Killed only once both prompts are recorded: a sender killed between Telegram's answer and
        # its delivery note leaves a prompt nothing can find again (docs/security.md), another case.
        wait_for(lambda: faults.sql("SELECT count(*) AS n FROM auth_sessions WHERE prompt_message_id IS NOT NULL"
                                    " AND phone_number IN (%s, %s)", (polled_person.phone, quiet_person.phone))[0]["n"] == 2,
                 10, "both prompts recorded")

        faults.kill("worker", signal.SIGKILL)
        assert browser.status(polled["session_id"]).json()["status"] == "pending"
        # Expiry is decided from expires_at in Postgres: no worker needed to say so on time.
        time.sleep(max(0.0, started_at + SHORT_TTL_SECONDS + 0.5 - time.monotonic()))
        assert browser.status(polled["session_id"]).json() == {"status": "expired"}

    faults.start_worker()
    for someone in (polled_person, quiet_person):
        closed = wait_for_closed_prompt(someone, prompts[someone.id]["message_id"])
        assert closed["text"].endswith(texts.text("outcome_expired", BOT_LANGUAGE))
    [quiet] = faults.sql("SELECT status FROM auth_sessions WHERE phone_number = %s", (quiet_person.phone,))
    assert quiet["status"] == "expired"
