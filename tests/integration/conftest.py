"""Fixtures for the web app's integration tests: real Postgres and Redis, Celery calls captured."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

import jobs
import tasks
from core import auth_sessions, db, prompt_delivery
from tests import factories
from webapp import create_app

WEB_TABLES = "users, auth_sessions, token_families"
ALLOWED_ORIGIN = "https://site.example"
BOT_USERNAME = "dom_test_bot"
# These tests start logins and poll far more often than a person would; the real limits are
# tested in test_web_limits.py (which passes the defaults back in).
GENEROUS_LIMITS = {
    "rate_limit_init_per_ip": "100000/minute",
    "rate_limit_init_per_phone": "100000/minute",
    "rate_limit_refresh_per_family": "100000/minute",
    "rate_limit_refresh_per_ip": "100000/minute",
    "rate_limit_poll_burst": 100000,
    "rate_limit_passkey_per_ip": "100000/minute",
}
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


@dataclass
class SentTask:
    """One task the app asked Celery to send."""

    name: str
    args: list[Any]
    countdown: float | None


@dataclass
class FakeQueue:
    """Stands in for the broker and the prompt queue: records what is enqueued, or fails it on demand."""

    sent: list[SentTask] = field(default_factory=list)
    failure: Exception | None = None

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, countdown: float | None = None, **options: Any) -> None:
        """Record a task, or raise the configured failure like an unreachable broker would."""
        if self.failure is not None:
            raise self.failure
        self.sent.append(SentTask(name, list(args or []), countdown))

    def enqueue_approval_prompt(self, session_pk: str, redis_url: str | None = None,
                                along: Callable[[redis.client.Pipeline], None] | None = None) -> None:
        """Record a prompt handed to the worker's prompt queue, as the task it runs as; write `along` for real."""
        self.send_task(jobs.SEND_APPROVAL_PROMPT, args=[str(session_pk)])
        if along is not None and redis_url:  # the status cache's entry of a new login
            with redis.Redis.from_url(redis_url) as client, client.pipeline(transaction=True) as pipe:
                along(pipe)
                pipe.execute()

    def names(self) -> list[str]:
        """Return the names of the tasks sent, in order."""
        return [task.name for task in self.sent]


@pytest.fixture
def fake_queue(monkeypatch: pytest.MonkeyPatch) -> FakeQueue:
    """Capture what the app enqueues (no task ever reaches a broker)."""
    queue = FakeQueue()
    monkeypatch.setattr(tasks.app, "send_task", queue.send_task)
    monkeypatch.setattr(tasks, "enqueue_approval_prompt", queue.enqueue_approval_prompt)
    monkeypatch.setattr(jobs, "enqueue_approval_prompt", queue.enqueue_approval_prompt)
    return queue


@pytest.fixture
def clean_tables(database_url: str) -> None:
    """Empty the tables the web app writes, before the test."""
    conn = db.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"TRUNCATE {WEB_TABLES} RESTART IDENTITY CASCADE")
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def make_app(database_url: str, redis_url: str, fake_queue: FakeQueue, clean_tables: None) -> Iterator[Callable[..., Flask]]:
    """Return a factory of test apps on the test database; keyword arguments override the config."""

    # An earlier test's Telegram failures would add "delivery": "failing" to every pending answer.
    redis.Redis.from_url(redis_url).delete(prompt_delivery.FAILING_KEY)

    def build(**overrides: Any) -> Flask:
        config: dict[str, Any] = {
            "app_env": "test",
            "database_url": database_url,
            "redis_url": redis_url,
            "telegram_bot_username": BOT_USERNAME,
            "allowed_origins": (ALLOWED_ORIGIN,),
            "approval_mode": "simple",
            "db_pool_size": 12,
            "db_pool_wait": 5.0,
            "TESTING": True,
            **GENEROUS_LIMITS,
        }
        config.update(overrides)
        return create_app(config)

    yield build
    db.get_pool().close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """Return the web app with the test settings."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return a test client of the app, sending a browser's User-Agent."""
    test_client = app.test_client()
    test_client.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
    return test_client


@pytest.fixture
def linked_user(app: Flask) -> dict[str, Any]:
    """Insert a user whose phone is linked to a Telegram account."""
    with db.transaction() as conn:
        return factories.make_user(conn)


@pytest.fixture
def start_login(client: FlaskClient) -> Callable[[str], dict[str, Any]]:
    """Return a function that posts /api/auth/init for a phone and returns the 201 body."""

    def start(phone_number: str) -> dict[str, Any]:
        response = client.post("/api/auth/init", json={"phone_number": phone_number})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return start


def session_row(session_id: str) -> dict[str, Any]:
    """Return the stored row of a browser's session id."""
    with db.transaction() as conn:
        row = auth_sessions.find_by_session_id(conn, session_id)
    assert row is not None
    return row


@pytest.fixture
def decide() -> Callable[[str, int, bool], None]:
    """Return a function that approves or rejects a session as the bot would (core, not HTTP)."""

    def record(session_id: str, telegram_id: int, approve: bool = True) -> None:
        pk = str(session_row(session_id)["id"])
        with db.transaction() as conn:
            row = (auth_sessions.approve if approve else auth_sessions.reject)(conn, pk, telegram_id)
        assert row is not None

    return record


@pytest.fixture
def login(client: FlaskClient, linked_user: dict[str, Any], start_login, decide) -> Callable[[], dict[str, Any]]:
    """Return a function that logs the linked user in and returns the `tokens` object."""

    def run() -> dict[str, Any]:
        started = start_login(linked_user["phone_number"])
        decide(started["session_id"], linked_user["telegram_id"], True)
        response = client.get(f"/api/auth/status/{started['session_id']}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()["tokens"]

    return run


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Serve the app on a real threaded HTTP server; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
