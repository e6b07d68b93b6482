"""A private running system for the fault tests, restored after each test, and invariants checked.

These tests stop Postgres and Redis and kill processes, so they never use the session's shared
servers (TEST_DATABASE_URL/TEST_REDIS_URL are ignored on purpose): everything here is started
for this directory alone and stopped at the end.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from devstack.services import EmbeddedPostgres, EmbeddedRedis, create_database, free_port
from tests.e2e.people import TelegramPerson
from tests.e2e.system import running_system
from tests.faults import invariants
from tests.report import findings
from tests.faults.system import FAULT_ENV, FaultSystem, RecordingBrowser

OLD_RUN_SECONDS = 24 * 3600


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker that names the failure a test causes (read by the security report)."""
    config.addinivalue_line("markers", "fault(name): the failure this test causes for real (security report)")


@pytest.fixture(scope="session")
def fault_log_dir(tests_artifacts_dir: Path) -> Path:
    """Return a directory of this run's own under test-artifacts/fault-logs/ for the processes' logs.

    Its own: two runs at once (several people share a working tree) must not read each
    other's "ready." lines or delete each other's logs. Runs older than a day are removed.
    """
    root = tests_artifacts_dir / "fault-logs"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        if time.time() - old.stat().st_mtime < OLD_RUN_SECONDS:
            continue
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    return Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=root))


@pytest.fixture(scope="session")
def faults(fault_log_dir: Path) -> Iterator[FaultSystem]:
    """Start a private Postgres, Redis and emulator, then release, web, worker and bot."""
    base = Path(tempfile.mkdtemp(prefix="dom-faults-"))
    postgres = EmbeddedPostgres(base / "pg")
    redis_server = EmbeddedRedis(port=free_port(), log_path=fault_log_dir / "redis.log")
    try:
        with postgres, redis_server:
            database_url = create_database(postgres.url, f"dom_faults_{secrets.token_hex(4)}")
            base_env = {**os.environ, **FAULT_ENV}
            with running_system(database_url, redis_server.url, fault_log_dir, base_env) as system:
                yield FaultSystem(system, postgres, redis_server, database_url)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def browser(faults: FaultSystem) -> Iterator[RecordingBrowser]:
    """Return a browser on the private system's web server."""
    with faults.system.http() as http:
        yield faults.browser(http)


@pytest.fixture
def person(faults: FaultSystem) -> TelegramPerson:
    """Return a new Telegram user, not linked yet."""
    return TelegramPerson(faults.system.emulator)


@pytest.fixture
def linked_person(person: TelegramPerson) -> TelegramPerson:
    """Return a Telegram user whose phone is linked through the bot."""
    person.link()
    return person


@pytest.fixture
def expected_refusals() -> list[tuple[str, int]]:
    """Return a list a test fills with the (method, error code) refusals it causes on purpose."""
    return []


@pytest.fixture(autouse=True)
def restored_and_checked(
    request: pytest.FixtureRequest, faults: FaultSystem, expected_refusals: list[tuple[str, int]]
) -> Iterator[None]:
    """Around every fault test: start with nothing broken; after it, restore and check the invariants."""
    faults.restore()
    before = len(faults.system.emulator.invalid_calls())
    yield
    faults.restore()
    invalid = faults.system.emulator.invalid_calls()[before:]
    unexpected = [c for c in invalid if (c["method"], c["error_code"]) not in expected_refusals]
    assert unexpected == [], f"invalid Bot API calls: {unexpected}\n{faults.system.logs()}"
    for invariant in invariants.INVARIANTS:
        checked = invariant.check(faults)
        findings.record_invariant(request.config, invariant.name, checked)
