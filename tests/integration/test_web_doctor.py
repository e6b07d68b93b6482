"""`flask --app wsgi doctor`: every check passes on a working setup; each broken piece is one FAIL line."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.parse

import httpx

from core.settings import Settings
from devstack import PROJECT_ROOT
from devstack.services import create_database, drop_database
from webapp import create_app, doctor

pytest_plugins = ["tests.integration.bot_fixtures"]

STRONG_KEY = secrets.token_urlsafe(48)


def good_settings(worker_env: Settings) -> Settings:
    return worker_env.with_overrides(jwt_secret_key=STRONG_KEY, allowed_origins=("https://app.example.com",))


def by_name(results: list[doctor.Result]) -> dict[str, doctor.Result]:
    return {r.name: r for r in results}


def test_a_working_setup_passes_every_check(worker_env, celery_worker):
    app = create_app({"jwt_secret_key": STRONG_KEY, "allowed_origins": ("https://app.example.com",)})
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == "all checks passed"
    names = [line.split(":", 1)[0] for line in lines[:-1]]
    assert names == [
        "ok   settings", "ok   jwt key", "ok   allowed origins", "ok   metrics", "ok   postgres", "ok   redis",
        "ok   telegram token", "ok   telegram webhook", "ok   worker", "ok   email",
    ]
    assert worker_env.telegram_bot_token.get_secret_value() not in result.output


def test_dead_services_each_fail_within_bounds(worker_env):
    settings = good_settings(worker_env).with_overrides(
        database_url="postgresql://dom:long-enough-password@127.0.0.1:1/nowhere",
        redis_url="redis://127.0.0.1:1/0",
        telegram_api_url="http://127.0.0.1:1",
    )
    started = time.monotonic()
    results = by_name(doctor.run(settings))
    assert time.monotonic() - started < 60  # each check is bounded: nothing hangs
    for name in ("postgres", "redis", "telegram token", "telegram webhook", "worker"):
        assert results[name].status == doctor.FAIL, results[name]
        assert results[name].fix
    assert "start Postgres" in results["postgres"].fix and "start Redis" in results["redis"].fix


def test_a_bad_token_fails_and_is_never_printed(worker_env):
    bad_token = "123456:too-short"  # the emulator, like Telegram, refuses it: 401
    results = by_name(doctor.run(good_settings(worker_env).with_overrides(telegram_bot_token=bad_token)))
    assert results["telegram token"].status == doctor.FAIL
    assert "BotFather" in results["telegram token"].fix
    assert all(bad_token not in r.line() for r in results.values())


def another_redis_db(url: str) -> str:
    """Return the URL of another database of the same Redis: no worker of any test layer listens there."""
    parts = urllib.parse.urlsplit(url)
    other = "/14" if parts.path == "/15" else "/15"
    return urllib.parse.urlunsplit(parts._replace(path=other))


def test_no_worker_fails(worker_env):
    # A worker of the e2e system may be running on the test Redis: ask on a database nobody uses.
    results = by_name(doctor.run(good_settings(worker_env).with_overrides(redis_url=another_redis_db(worker_env.redis_url))))
    assert results["worker"].status == doctor.FAIL and "celery -A tasks worker" in results["worker"].fix


def test_a_webhook_set_while_polling_fails(worker_env, fake_telegram):
    api = f"{worker_env.telegram_api_url}/bot{worker_env.telegram_bot_token.get_secret_value()}"
    assert httpx.post(f"{api}/setWebhook", json={"url": "https://bot.example.com/hook"}).json()["ok"]
    try:
        result = by_name(doctor.run(good_settings(worker_env)))["telegram webhook"]
    finally:
        httpx.post(f"{api}/deleteWebhook")
    assert result.status == doctor.FAIL and "BOT_MODE=polling" in result.detail


def test_an_unmigrated_database_fails(worker_env, postgres_server_url):
    name = f"dom_test_doctor_{secrets.token_hex(4)}"
    url = create_database(postgres_server_url, name)
    try:
        result = by_name(doctor.run(good_settings(worker_env).with_overrides(database_url=url)))["postgres"]
    finally:
        drop_database(postgres_server_url, name)
    assert result.status == doctor.FAIL and "pending" in result.detail and "db upgrade" in result.fix


def test_weak_settings_fail_in_production_and_warn_in_development(worker_env):
    production = by_name(doctor.run(worker_env.with_overrides(app_env="production", jwt_secret_key="short")))
    assert production["jwt key"].status == doctor.FAIL and "only 5 bytes" in production["jwt key"].detail
    assert production["allowed origins"].status == doctor.FAIL
    development = by_name(doctor.run(worker_env.with_overrides(app_env="development")))
    assert development["jwt key"].status == doctor.WARN and development["allowed origins"].status == doctor.WARN


def test_the_command_runs_where_the_app_refuses_to_start():
    # Production without a JWT key or origins: create_app() refuses, the doctor explains.
    env = {"PATH": os.environ.get("PATH", ""), "APP_ENV": "production", "DATABASE_URL": "postgresql://127.0.0.1:1/x",
           "REDIS_URL": "redis://127.0.0.1:1/0", "TELEGRAM_API_URL": "http://127.0.0.1:1"}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "doctor"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=90,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "FAIL jwt key" in done.stdout and "FAIL redis" in done.stdout and "FAIL telegram token" in done.stdout
    assert done.stdout.strip().endswith("check(s) failed")


def test_production_fails_a_database_role_that_row_level_security_lets_past(worker_env):
    # The test database is reached as the server's superuser: production's processes would refuse it.
    production = good_settings(worker_env).with_overrides(app_env="production")
    result = doctor.check_postgres(production)
    assert result.status == doctor.FAIL
    assert result.detail.startswith("DATABASE_URL connects as the superuser")
    assert doctor.check_postgres(good_settings(worker_env)).status == doctor.OK


def test_email_check_logs_in_to_the_smtp_server_and_never_prints_the_password(worker_env, mailbox):
    assert by_name(doctor.run(good_settings(worker_env)))["email"].status == doctor.OK  # unset: email is off
    working = by_name(doctor.run(good_settings(worker_env).with_overrides(smtp_url=mailbox.smtp_url)))["email"]
    assert working.status == doctor.OK and f"127.0.0.1:{mailbox.smtp.port} answers" in working.detail
    mailbox.smtp.stop()
    dead = doctor.check_email(good_settings(worker_env).with_overrides(
        smtp_url=f"smtp://mailer:s3cret-pass@127.0.0.1:{mailbox.smtp.port}"))
    assert dead.status == doctor.FAIL and "SMTP_URL" in dead.fix and "s3cret-pass" not in dead.line()
