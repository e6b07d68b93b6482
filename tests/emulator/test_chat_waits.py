"""Waiting chat reads: a bot message wakes the readers of its own chat only."""

from __future__ import annotations

import threading
import time

from telegram_emulator import state as state_module
from telegram_emulator.records import StoredMessage
from telegram_emulator.state import EmulatorState


class CountingCondition(threading.Condition):
    """A Condition that counts how often a wait on it ended before its timeout (a wake-up)."""

    wakeups = 0

    def wait(self, timeout: float | None = None) -> bool:
        woken = super().wait(timeout)
        if woken:
            CountingCondition.wakeups += 1
        return woken


def started_chat(state: EmulatorState, first_name: str) -> int:
    user = state.add_user({"first_name": first_name})
    state.add_user_message(user["id"], {"text": "/start"})
    return user["id"]


def test_a_bot_message_wakes_only_the_readers_of_its_chat(monkeypatch):
    # Patched in the threading module itself, so it counts every Condition made from here on.
    monkeypatch.setattr(state_module.threading, "Condition", CountingCondition)
    state = EmulatorState("test_bot", "Test")
    state.bot_id = 1
    quiet, busy = started_chat(state, "Quiet"), started_chat(state, "Busy")
    reader = threading.Thread(target=state.wait_for_bot_message, args=(quiet, 0, 1.0))
    reader.start()
    time.sleep(0.1)
    CountingCondition.wakeups = 0  # starting the thread waited on a Condition too
    for n in range(5):
        state.add_bot_message(busy, {"text": f"to someone else {n}"}, StoredMessage({}, from_bot=True))
    time.sleep(0.1)
    assert CountingCondition.wakeups == 0  # the quiet chat's reader slept through them

    state.add_bot_message(quiet, {"text": "yours"}, StoredMessage({}, from_bot=True))
    reader.join(2)
    assert not reader.is_alive() and CountingCondition.wakeups == 1
