"""Postgres stopped: 503 with Retry-After at once; back up: every process works again, no restart."""

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
    last_message_id,
    timed,
    wait_for,
    wait_for_prompt_after,
)
from tests.faults.test_redis_down import FAIL_FAST_SECONDS, assert_unavailable, init, log_in, pids

# Every gunicorn thread and worker process holds pooled connections: use more of them than one
# request would, so stale connections of the old server are met if any were kept.
REQUESTS_AFTER_RESTART = 40
# Telegram's answer to the prompt's sendMessage comes this late: time to stop Postgres after the
# message is in the chat and before the worker records it (PTB's read timeout is 10 s).
SLOW_ANSWER_SECONDS = 4
# Room for a duplicate prompt to show up, had the worker's retry sent one.
DUPLICATE_WINDOW_SECONDS = 2.0


@pytest.mark.fault("Postgres stopped, then started again")
def test_postgres_stopped_gives_503_then_everything_recovers_without_restarts(
    faults: FaultSystem, browser: RecordingBrowser, linked_person: TelegramPerson
) -> None:
    tokens = log_in(browser, linked_person)
    pending = browser.init(linked_person.phone)
    linked_person.wait_for_prompt()
    processes_before = pids(faults)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    faults.stop_postgres()
    try:
        assert_unavailable(*timed(init, browser, linked_person.phone))
        # A pending login's status may come from its Redis mirror (the hot path): then it is
        # still right, else it is a 503 like the rest.
        status, seconds = timed(browser.status, pending["session_id"])
        if status.status_code == 200:
            assert status.json()["status"] == "pending" and seconds < FAIL_FAST_SECONDS
        else:
            assert_unavailable(status, seconds)
        # Revocation is checked in Postgres: without it a token is refused (fail closed), not trusted.
        assert_unavailable(*timed(browser.me, tokens["access_token"]))
        assert_unavailable(*timed(browser.http.post, "/api/auth/logout", headers=bearer))
        ready, seconds = timed(browser.http.get, "/readyz")
        assert_unavailable(ready, seconds)
        assert ready.json()["checks"]["postgres"] == "unreachable"
    finally:
        faults.start_postgres()

    # The connections pooled before the restart are all dead: none may cost a request a 503.
    answers = [browser.me(tokens["access_token"]).status_code for _ in range(REQUESTS_AFTER_RESTART)]
    assert answers == [200] * REQUESTS_AFTER_RESTART
    # The worker and the bot pooled connections too: a whole login goes through them.
    seen = last_message_id(linked_person)
    started = browser.init(linked_person.phone)
    prompt = wait_for_prompt_after(linked_person, seen, timeout=30)
    answered = len(linked_person.callback_answers())
    linked_person.tap(prompt, 0)
    assert linked_person.wait_for_answers(answered + 1)[-1]["text"] == texts.text("answer_approved", BOT_LANGUAGE)
    assert browser.wait_for_status(started["session_id"], "approved")["tokens"]
    assert browser.status(pending["session_id"]).json()["status"] == "pending"
    assert pids(faults) == processes_before


@pytest.mark.fault("Postgres stopped while the worker has a prompt to send")
def test_a_prompt_due_while_postgres_is_down_is_sent_when_it_is_back(
    faults: FaultSystem, browser: RecordingBrowser, linked_person: TelegramPerson
) -> None:
    faults.kill("worker", signal.SIGTERM)  # a clean stop: the prompt's task waits in the queue
    seen = last_message_id(linked_person)
    started = browser.init(linked_person.phone)
    faults.stop_postgres()
    log_offset = faults.log_size("worker")
    try:
        faults.start_worker()  # takes the task at once and finds no database
        wait_for(
            lambda: "ServiceUnavailable" in faults.log_since("worker", log_offset), 20, "the worker meeting Postgres down"
        )
    finally:
        faults.start_postgres()
    linked_person.tap(wait_for_prompt_after(linked_person, seen, timeout=40), 0)
    assert browser.wait_for_status(started["session_id"], "approved")["tokens"]



@pytest.mark.fault("Postgres stopped after Telegram delivered a prompt, before the worker recorded it")
def test_a_prompt_delivered_just_before_postgres_went_down_is_recorded_not_sent_again(
    faults: FaultSystem, browser: RecordingBrowser, linked_person: TelegramPerson
) -> None:
    faults.system.emulator.add_fault("sendMessage", "slow", delay=SLOW_ANSWER_SECONDS, chat_id=linked_person.id)
    seen = last_message_id(linked_person)
    log_offset = faults.log_size("worker")
    started = browser.init(linked_person.phone)
    prompt = wait_for_prompt_after(linked_person, seen)  # in the chat; the worker still waits for the answer
    faults.stop_postgres()
    try:
        wait_for(
            lambda: "ServiceUnavailable" in faults.log_since("worker", log_offset),
            SLOW_ANSWER_SECONDS + 20,
            "the worker failing to record the delivered prompt",
        )
    finally:
        faults.start_postgres()

    def recorded_prompt() -> object:
        [row] = faults.sql("SELECT prompt_message_id FROM auth_sessions WHERE phone_number = %s"
                           " AND status = 'pending'", (linked_person.phone,))
        return row["prompt_message_id"]

    wait_for(lambda: recorded_prompt() == prompt["message_id"], 40, "the retry recording the delivered prompt")
    time.sleep(DUPLICATE_WINDOW_SECONDS)
    prompts = [m for m in linked_person.bot_messages() if m["message_id"] > seen and prompt_buttons(m)]
    assert [p["message_id"] for p in prompts] == [prompt["message_id"]]
    linked_person.tap(prompt, 0)
    assert browser.wait_for_status(started["session_id"], "approved")["tokens"]
