"""Every Procfile process, started as deployed with APP_ENV=production, refuses weak settings.

Nothing is patched: the commands come from the Procfile; each must exit non-zero before serving,
naming every problem on its own line.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from devstack import PROJECT_ROOT
from devstack.procfile import read_procfile, resolve_command
from devstack.services import free_port

WEAK = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgresql://dance:postgres@127.0.0.1:1/dance",  # nothing listens on port 1
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "TELEGRAM_BOT_TOKEN": "123456789:production-guard-test-token-000000000",
    "JWT_SECRET_KEY": "short",
    "ALLOWED_ORIGINS": "",
    "BOT_MODE": "webhook",
    "WEBHOOK_URL": "https://bot.example.com/telegram",
    "WEBHOOK_SECRET": "",
    "WEB_CONCURRENCY": "1",
}
# What each process needs and checks (the bot and the worker are never given the JWT key).
EXPECTED = {
    "release": ["JWT_SECRET_KEY must be at least 32", "ALLOWED_ORIGINS is empty", "DATABASE_URL uses a default"],
    "web": ["JWT_SECRET_KEY must be at least 32", "ALLOWED_ORIGINS is empty", "DATABASE_URL uses a default"],
    "worker": ["DATABASE_URL uses a default"],
    "bot": ["WEBHOOK_SECRET must be 1-256 characters", "DATABASE_URL uses a default"],
    "beat": ["DATABASE_URL uses a default"],
}


def run_procfile_entry(entry: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a Procfile entry to its end (it must refuse, so it ends) and return what it said."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "PORT": str(free_port()), **env}
    return subprocess.run(
        resolve_command(read_procfile()[entry], env),
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.mark.parametrize("entry", sorted(EXPECTED))
def test_each_process_refuses_weak_production_settings_one_line_per_problem(entry):
    result = run_procfile_entry(entry, WEAK)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    lines = output.splitlines()
    for problem in EXPECTED[entry]:
        assert sum(problem in line for line in lines) >= 1, (problem, output)
    assert "postgresql://dance:postgres@" not in output  # the refusal never prints the password
    assert " ready." not in output  # the worker never took a task



@pytest.mark.parametrize("entry", ["web", "worker", "bot"])
def test_each_process_refuses_to_connect_as_a_superuser_in_production(entry, database_url, redis_url):
    # Sound settings, but the test server's admin role: row-level security would protect nothing.
    sound = {
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TELEGRAM_BOT_TOKEN": "123456789:production-guard-test-token-000000000",
        "TELEGRAM_API_URL": "http://127.0.0.1:1",
        "JWT_SECRET_KEY": "k" * 48,
        "ALLOWED_ORIGINS": "https://app.example.com",
        "WEBAUTHN_RP_ID": "example.com",
        "WEBAUTHN_RP_NAME": "Example",
        "WEBAUTHN_ORIGINS": "https://app.example.com",
        "WEB_CONCURRENCY": "1",
    }
    result = run_procfile_entry(entry, sound)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "DATABASE_URL connects as the superuser" in output, output
    assert " ready." not in output
