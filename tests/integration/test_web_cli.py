"""`flask --app wsgi db upgrade`: applies the migrations once, then says the database is up to date."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from typing import Iterator

import pytest

from core import db, migrations
from devstack import PROJECT_ROOT
from devstack.services import create_database, drop_database
from webapp import create_app


@pytest.fixture
def empty_database(postgres_server_url: str) -> Iterator[str]:
    """Yield the URL of a new database without any table, dropped afterwards."""
    name = f"dom_test_cli_{secrets.token_hex(4)}"
    url = create_database(postgres_server_url, name)
    try:
        yield url
    finally:
        db.get_pool().close()
        drop_database(postgres_server_url, name)


def test_db_upgrade_is_idempotent(empty_database, redis_url):
    app = create_app({"app_env": "test", "database_url": empty_database, "redis_url": redis_url})
    runner = app.test_cli_runner()

    first = runner.invoke(args=["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == f"applied migrations: {', '.join(m.version for m in migrations.discover())}"
    second = runner.invoke(args=["db", "upgrade"])
    assert (second.exit_code, second.output.strip()) == (0, "database is up to date")
    assert migrations.pending(empty_database) == []


def flask_db_upgrade(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=PROJECT_ROOT,
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_release_command_runs_in_production_with_a_strong_key(empty_database, redis_url):
    env = {
        "APP_ENV": "production",
        "DATABASE_URL": empty_database,
        "REDIS_URL": redis_url,
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_ORIGINS": "https://site.example",
        "WEBAUTHN_RP_ID": "site.example",
        "WEBAUTHN_RP_NAME": "Site",
        "WEBAUTHN_ORIGINS": "https://site.example",
    }
    first = flask_db_upgrade(env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("applied migrations: 0001")
    second = flask_db_upgrade(env)
    assert (second.returncode, second.stdout.strip()) == (0, "database is up to date"), second.stderr


def test_production_refuses_to_start_without_a_jwt_key(empty_database, redis_url):
    result = flask_db_upgrade({"APP_ENV": "production", "DATABASE_URL": empty_database, "REDIS_URL": redis_url})
    assert result.returncode != 0
    assert "JWT_SECRET_KEY" in result.stderr
    assert migrations.pending(empty_database) == [m.version for m in migrations.discover()]
