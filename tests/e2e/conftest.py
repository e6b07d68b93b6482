"""Session-wide running system for end-to-end tests, and per-test checks of Telegram traffic."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from tests.e2e.people import Browser, TelegramPerson
from tests.e2e.system import System, running_system


@pytest.fixture(scope="session")
def e2e_log_dir(tests_artifacts_dir: Path) -> Path:
    """Return the directory where every process of the e2e system logs."""
    path = tests_artifacts_dir / "e2e-logs"
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.log"):
        old.unlink()
    return path


@pytest.fixture(scope="session")
def system(database_url: str, redis_url: str, e2e_log_dir: Path) -> Iterator[System]:
    """Start the emulator, then release, web, worker and bot as real processes."""
    with running_system(database_url, redis_url, e2e_log_dir, dict(os.environ)) as running:
        yield running


@pytest.fixture(autouse=True)
def no_invalid_bot_calls(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every e2e test, assert the emulator saw no Bot API call Telegram would refuse."""
    if "system" not in request.fixturenames:
        yield
        return
    system: System = request.getfixturevalue("system")
    system.emulator.clear_faults()
    # The emulator is never reset: late tasks of earlier tests (expiry edits) must still find
    # their chats. So look only at what was recorded during this test.
    before = len(system.emulator.invalid_calls())
    yield
    invalid = system.emulator.invalid_calls()[before:]
    assert invalid == [], f"invalid Bot API calls: {invalid}\n{system.logs()}"


@pytest.fixture
def browser(system: System) -> Iterator[Browser]:
    """Return a browser talking to the main web server."""
    with system.http() as http:
        yield Browser(http)


@pytest.fixture
def person(system: System) -> TelegramPerson:
    """Return a new Telegram user with a fresh phone, not linked yet."""
    return TelegramPerson(system.emulator)


@pytest.fixture
def linked_person(person: TelegramPerson) -> TelegramPerson:
    """Return a Telegram user whose phone is already linked through the bot."""
    person.link()
    return person
