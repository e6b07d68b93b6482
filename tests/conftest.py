"""Session fixtures shared by every test layer, and the layer markers given by directory.

Servers: `TEST_DATABASE_URL` / `TEST_REDIS_URL` when set (CI's second pass uses the machine's
Postgres and Redis), else embedded ones started once per session (see devstack/services.py).
"""

from __future__ import annotations

import importlib
import os
import secrets
import shutil
import signal
import tempfile
import urllib.parse
from pathlib import Path
from types import FrameType
from typing import Callable, Iterator

import pytest

from devstack import PROJECT_ROOT
from devstack.services import EmbeddedPostgres, EmbeddedRedis, create_database, drop_database

# Fixtures more than one layer uses; a plugin is registered once, so a session fixture runs once.
pytest_plugins = ["tests.emulator_fixtures", "tests.mail_fixtures"]

TESTS_DIR = Path(__file__).resolve().parent
LAYERS = ("unit", "integration", "e2e")
# First directory under tests/ -> layer; any other directory (or a file in tests/) is "unit".
LAYER_BY_DIRECTORY = {
    "unit": "unit",
    "emulator": "unit",  # the fake Bot API needs neither Postgres nor Redis
    "integration": "integration",
    "devstack": "integration",  # starts real (embedded) servers
    "e2e": "e2e",
    "faults": "e2e",  # a private system whose servers the tests stop (tests/faults/conftest.py)
}
TEST_REDIS_DB = 15  # a DB index of its own on a shared TEST_REDIS_URL server, flushed per session


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def pytest_configure(config: pytest.Config) -> None:
    """Treat SIGTERM like Ctrl-C, so session fixtures still stop the servers they started."""
    # Killed with the default SIGTERM action, pytest would leave embedded Postgres and Redis running.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _layer(item: pytest.Item) -> str:
    for layer in LAYERS:
        if item.get_closest_marker(layer):
            return layer
    try:
        first = Path(item.path).resolve().relative_to(TESTS_DIR).parts[0]
    except ValueError:
        first = ""
    return LAYER_BY_DIRECTORY.get(first, "unit")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test unit/integration/e2e by its directory (unless marked), and run the layers in that order.

    The order matters beyond speed: the e2e layer's session-wide worker and bot share
    `redis_url` and `database_url` with the integration layer, and would take its queued tasks.
    """
    for item in items:
        layer = _layer(item)
        if not item.get_closest_marker(layer):
            item.add_marker(getattr(pytest.mark, layer))
    items.sort(key=lambda item: LAYERS.index(_layer(item)))  # stable: file order within a layer


def _prepare_database() -> Callable[[str], None]:
    """Return tests/dbsetup.py's `prepare_database(url)` (it applies migrations), or a no-op."""
    # >>> Migrations hook: tests/dbsetup.py (owned by the database/migrations engineer) defines
    # >>> `prepare_database(url: str) -> None`; it runs once on each fresh test database.
    try:
        module = importlib.import_module("tests.dbsetup")
    except ModuleNotFoundError as exc:
        if exc.name not in ("tests", "tests.dbsetup"):
            raise  # dbsetup exists but something it imports is missing: say so
        return lambda url: None
    return module.prepare_database


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """Yield an admin URL of a Postgres server: TEST_DATABASE_URL, or an embedded one."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    # Short path under /tmp: the server's unix socket lives in the data directory.
    base = Path(tempfile.mkdtemp(prefix="dom-test-pg-"))
    try:
        with EmbeddedPostgres(base / "data") as server:
            yield server.url
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """Yield the URL of a fresh database `dom_test_<random>` for this session, dropped at the end."""
    name = f"dom_test_{secrets.token_hex(6)}"
    url = create_database(postgres_server_url, name)
    try:
        _prepare_database()(url)
        yield url
    finally:
        drop_database(postgres_server_url, name)


def with_redis_db(url: str, db: int = TEST_REDIS_DB) -> str:
    """Return `url` with DB index `db` unless it names one already (path or ?db=)."""
    parts = urllib.parse.urlsplit(url)
    if parts.path.strip("/") or "db=" in parts.query:
        return url
    return urllib.parse.urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """Yield a Redis URL with an empty database: TEST_REDIS_URL (DB 15 by default), or an embedded one."""
    import redis

    configured = os.environ.get("TEST_REDIS_URL")
    if configured:
        url = with_redis_db(configured)
        client = redis.Redis.from_url(url)
        try:
            client.flushdb()
        finally:
            client.close()
        yield url
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture(scope="session")
def tests_artifacts_dir() -> Path:
    """Return test-artifacts/ at the project root (logs, screenshots), created if missing."""
    path = PROJECT_ROOT / "test-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path
