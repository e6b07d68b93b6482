"""The in-process Telegram emulator, shared by the emulator's own tests and the bot's and worker's.

Registered for every layer by tests/conftest.py: one definition, so one emulator per session
whichever layers run, and each test that asks for `fake_telegram` starts from a reset one.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from telegram_emulator import start_in_thread
from telegram_emulator.client import EmulatorClient
from telegram_emulator.server import RunningEmulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[RunningEmulator]:
    """Serve one emulator for the whole session (tests reset it through `fake_telegram`)."""
    running = start_in_thread()
    yield running
    running.shutdown()


@pytest.fixture
def fake_telegram(emulator: RunningEmulator) -> Iterator[EmulatorClient]:
    """Return a control client of the emulator, freshly reset."""
    with EmulatorClient(emulator.url) as client:
        client.reset()
        yield client
