"""Fixtures for tests of `core` against the real test database (load with pytest_plugins)."""

from __future__ import annotations

from typing import Iterator

import pytest

from core import db
from core.settings import Settings

TABLES = "users, auth_sessions, token_families"


@pytest.fixture
def core_settings(database_url: str, redis_url: str) -> Settings:
    """Return test settings pointing at the test database and Redis."""
    return Settings(app_env="test", database_url=database_url, redis_url=redis_url, db_pool_size=4, db_pool_wait=2.0)


@pytest.fixture
def core_db(core_settings: Settings) -> Iterator[db.Pool]:
    """Configure this process's pool for the test database, with empty tables."""
    pool = db.configure(core_settings)
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    yield pool
    pool.close()
