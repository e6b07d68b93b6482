"""Fixtures for the worker's and the bot's integration tests (load with pytest_plugins).

Real Postgres and Redis (`database_url`, `redis_url` from tests/conftest.py), the Telegram
emulator over real HTTP (`emulator`, `fake_telegram` from tests/emulator_fixtures.py), real
python-telegram-bot.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Coroutine, Iterator

import pytest
import redis
from celery.exceptions import Retry
from telegram.ext import Application

import jobs
import tasks
from botrunner.app import ALLOWED_UPDATES, build_application
from core import auth_sessions, db
from core.settings import Settings, get_settings
from telegram_sender import sender as telegram_client
from telegram_emulator.client import EmulatorClient
from telegram_emulator.server import RunningEmulator
from tests import factories

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "7000002:AAE_bot-runner-test-token-0123456789"
TABLES = "users, auth_sessions, token_families"
# A queue of our own: a worker left running by another test layer (e2e) consumes "celery".
CELERY_QUEUE = "bot-tests"


@pytest.fixture
def bot_settings(database_url: str, redis_url: str, emulator: RunningEmulator) -> Settings:
    """Return settings pointing at the test database, Redis and the emulator."""
    return Settings(
        app_env="test",
        database_url=database_url,
        redis_url=redis_url,
        telegram_bot_token=BOT_TOKEN,
        telegram_api_url=emulator.url,
        bot_default_language="en",
        db_pool_size=4,
        db_pool_wait=2.0,
    )


def settings_environment(settings: Settings) -> dict[str, str]:
    """Return the environment variables that make a process read these settings."""
    return {
        "APP_ENV": settings.app_env,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "TELEGRAM_BOT_TOKEN": settings.telegram_bot_token.get_secret_value(),
        "TELEGRAM_API_URL": settings.telegram_api_url,
        "BOT_DEFAULT_LANGUAGE": settings.bot_default_language,
        "BOT_MODE": "polling",
    }


def point_celery_at(url: str) -> None:
    """Make `tasks.app` publish to the broker at `url` (it read REDIS_URL when first configured)."""
    if tasks.app.conf.broker_url != url:
        tasks.app.conf.broker_url = url
        # Forget the cached connection and producer pools; kombu keeps one pool per broker URL.
        tasks.app._after_fork()


@pytest.fixture
def worker_env(
    bot_settings: Settings, fake_telegram: EmulatorClient, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Point this process's settings, pool, Telegram client and Celery at the test services.

    Tables are emptied, and the Redis keys the tasks and Celery use are deleted.
    """
    for name, value in settings_environment(bot_settings).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    db.configure(get_settings())
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    client = redis.Redis.from_url(bot_settings.redis_url)
    stale = [*client.scan_iter("prompt-*"), *client.scan_iter("login-notice-*"), *client.scan_iter("telegram-flood-wait:*"),
             CELERY_QUEUE, jobs.PROMPT_QUEUE_KEY]
    client.delete(*stale)
    client.close()
    telegram_client.shutdown()
    broker_before = tasks.app.conf.broker_url
    point_celery_at(bot_settings.redis_url)
    monkeypatch.setattr(tasks.app, "send_task", functools.partial(tasks.app.send_task, queue=CELERY_QUEUE))
    yield get_settings()
    point_celery_at(broker_before)
    telegram_client.shutdown()
    get_settings.cache_clear()


@pytest.fixture
def celery_queue(worker_env: Settings) -> Callable[[], list[tuple[str, list[Any]]]]:
    """Return a function listing (task name, args) of the work waiting for a worker: the messages
    in Celery's queue, then the prompts in the prompt queue (`jobs.PROMPT_QUEUE_KEY`), which the
    worker runs as `send_approval_prompt`."""
    client = redis.Redis.from_url(worker_env.redis_url)

    def waiting() -> list[tuple[str, list[Any]]]:
        found = []
        for raw in reversed(client.lrange(CELERY_QUEUE, 0, -1)):  # LPUSHed: newest first
            message = json.loads(raw)
            args = json.loads(base64.b64decode(message["body"]))[0]
            found.append((message["headers"]["task"], args))
        for raw in client.lrange(jobs.PROMPT_QUEUE_KEY, 0, -1):  # RPUSHed: oldest first
            found.append((jobs.SEND_APPROVAL_PROMPT, [json.loads(raw)["session"]]))
        return found

    return waiting


class BotThread:
    """Run an Application's polling on its own event loop in a background thread."""

    def __init__(self, application: Application) -> None:
        self.application = application
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bot-under-test", daemon=True)

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float = 15) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        """Initialise, publish commands (as run_polling would), and start polling."""
        self.thread.start()
        self._call(self._start())

    async def _start(self) -> None:
        await self.application.initialize()
        await self.application.post_init(self.application)
        await self.application.start()
        await self.application.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)

    def stop(self) -> None:
        """Stop polling and shut the Application down, then the loop."""
        try:
            self._call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
            self.loop.close()

    async def _stop(self) -> None:
        if self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()


@pytest.fixture
def start_bot(worker_env: Settings) -> Iterator[Callable[[], Application]]:
    """Return a function that starts the real bot against the emulator (stopped after the test)."""
    runners: list[BotThread] = []

    def start() -> Application:
        runner = BotThread(build_application(worker_env))
        runners.append(runner)
        runner.start()
        return runner.application

    yield start
    for runner in runners:
        runner.stop()


@pytest.fixture
def running_bot(start_bot: Callable[[], Application]) -> Application:
    """Run the real bot Application against the emulator for one test."""
    return start_bot()


@pytest.fixture
def celery_worker(worker_env: Settings) -> Iterator[subprocess.Popen]:
    """Run `celery -A tasks worker --pool=solo` against the test services for one test."""
    env = {**os.environ, **settings_environment(worker_env), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool=solo", "--loglevel=INFO", "-Q", CELERY_QUEUE,
         "--without-mingle", "--without-gossip", "--without-heartbeat"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def collect() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)

    threading.Thread(target=collect, daemon=True).start()
    deadline = time.monotonic() + 20
    while not any("ready." in line for line in lines):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("celery worker did not start:\n" + "".join(lines))
        time.sleep(0.05)
    process.output = lines  # type: ignore[attr-defined]
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def retries(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record each retry our tasks ask for instead of running it (eager `apply` would re-run at once)."""
    seen: list[dict[str, Any]] = []

    def record(self: Any, *args: Any, **kwargs: Any) -> None:
        seen.append({"task": self.name, **kwargs})
        raise Retry(exc=kwargs.get("exc"), when=kwargs.get("countdown"))

    for name in (tasks.SEND_APPROVAL_PROMPT, tasks.UPDATE_PROMPT, tasks.EXPIRE_SESSION, tasks.SEND_LOGIN_NOTICE):
        monkeypatch.setattr(type(tasks.app.tasks[name]), "retry", record)
    return seen


class Kit:
    """Small helpers for these tests: linked users and sessions in the database."""

    def __init__(self, fake_telegram: EmulatorClient) -> None:
        self.fake_telegram = fake_telegram

    def telegram_user(self, *, started: bool = True, language_code: str | None = "en", **fields: Any) -> dict[str, Any]:
        """Create an emulator user; `started`: they already wrote to the bot, so it may write back.

        `language_code` None: their Telegram app tells no language.
        """
        fields = {"first_name": "Anna", "username": "anna", **fields}
        created = self.fake_telegram.create_user(language_code=language_code, **fields)
        if started:
            self.fake_telegram.send_message(created["id"], "hello")
        return created

    def linked_user(self, *, started: bool = True, language_code: str = "en") -> dict[str, Any]:
        """Create an emulator user and link a fresh phone to them in the database."""
        created = self.telegram_user(started=started, language_code=language_code)
        with db.transaction() as conn:
            return factories.make_user(conn, telegram_id=created["id"], language_code=language_code)

    @staticmethod
    def new_session(phone_number: str, **overrides: Any) -> auth_sessions.NewSession:
        """Start a pending login for a phone, committed."""
        with db.transaction() as conn:
            return factories.make_session(conn, phone_number=phone_number, **overrides)

    @staticmethod
    def session_row(session_pk: Any) -> dict[str, Any]:
        """Return a session as it now stands in the database."""
        with db.transaction() as conn:
            row = auth_sessions.get(conn, str(session_pk))
        assert row is not None
        return row

    @staticmethod
    def make_overdue(session_pk: Any) -> None:
        """Move a session's expiry into the past without touching its status."""
        with db.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE auth_sessions SET expires_at = now() - interval '1 second' WHERE id = %s", (str(session_pk),)
            )


@pytest.fixture
def kit(worker_env: Settings, fake_telegram: EmulatorClient) -> Kit:
    """Return the helpers, on empty tables and a reset emulator."""
    return Kit(fake_telegram)
