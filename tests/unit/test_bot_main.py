import logging
import sys

import pytest

from botrunner import __main__ as runner
from botrunner import webhook
from core.settings import get_settings

READY = {
    "DATABASE_URL": "postgresql://nowhere/db",
    "REDIS_URL": "redis://nowhere:6379/0",
    "TELEGRAM_BOT_TOKEN": "1:AAAAAAAAAAAAAAAAAAAAAAAAA",
}


@pytest.fixture
def environment(monkeypatch):
    for name, value in READY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BOT_MODE", raising=False)
    get_settings.cache_clear()
    root_level = logging.getLogger().level
    switch_interval = sys.getswitchinterval()
    yield monkeypatch
    logging.getLogger().setLevel(root_level)  # main() sets the process-wide level
    sys.setswitchinterval(switch_interval)  # and the GIL's switch interval
    get_settings.cache_clear()


def test_webhook_mode_without_a_secret_refuses_to_start(environment, caplog, monkeypatch):
    environment.setenv("BOT_MODE", "webhook")
    environment.setenv("WEBHOOK_URL", "https://bot.example.com/telegram")
    get_settings.cache_clear()
    monkeypatch.setattr(runner, "build_application", lambda settings: pytest.fail("must not start"))
    with caplog.at_level(logging.ERROR):
        assert runner.main() == 2
    assert "refusing to start the bot process:" in caplog.text
    assert "WEBHOOK_SECRET must be 1-256 characters" in caplog.text


def test_production_bot_refuses_a_default_database_password(environment, caplog, monkeypatch):
    environment.setenv("DATABASE_URL", "postgresql://app:changeme@db.internal/dance")
    get_settings.cache_clear()
    monkeypatch.setattr(runner, "build_application", lambda settings: pytest.fail("must not start"))
    with caplog.at_level(logging.ERROR):
        assert runner.main() == 2
    assert "DATABASE_URL uses a default database password" in caplog.text
    assert "changeme" not in caplog.text


class FakeApplication:
    """Records how main() runs the application."""

    def __init__(self) -> None:
        self.handlers: list[tuple[object, int]] = []
        self.started: dict[str, object] = {}

    def add_handler(self, handler: object, group: int = 0) -> None:
        self.handlers.append((handler, group))

    def run_polling(self, **options: object) -> None:
        self.started = {"mode": "polling", **options}

    def run_webhook(self, **options: object) -> None:
        pytest.fail("python-telegram-bot's webhook server reads a body before it checks the secret")


def test_webhook_mode_serves_our_own_webhook_server_with_the_url_path_and_the_secret(environment, monkeypatch):
    secret = "s" * 43
    environment.setenv("BOT_MODE", "webhook")
    environment.setenv("WEBHOOK_URL", "https://bot.example.com/telegram/updates")
    environment.setenv("WEBHOOK_SECRET", secret)
    get_settings.cache_clear()
    application = FakeApplication()
    monkeypatch.setattr(runner, "build_application", lambda settings: application)
    served: dict[str, object] = {}
    monkeypatch.setattr(
        webhook, "run", lambda app, settings, allowed: served.update(app=app, settings=settings, allowed=allowed)
    )
    assert runner.main() == 0
    settings = served["settings"]
    assert served["app"] is application
    assert (settings.webhook_listen, settings.webhook_port) == ("127.0.0.1", 8443)
    assert webhook.url_path(settings.webhook_url) == "telegram/updates"
    assert settings.webhook_secret.get_secret_value() == secret
    assert served["allowed"] == ["message", "callback_query"]
    assert [group for _, group in application.handlers] == [-1]  # duplicates are dropped first


def test_missing_token_is_named(environment, caplog, monkeypatch):
    environment.setenv("TELEGRAM_BOT_TOKEN", "")
    get_settings.cache_clear()
    monkeypatch.setattr(runner, "build_application", lambda settings: pytest.fail("must not start"))
    with caplog.at_level(logging.ERROR):
        assert runner.main() == 2
    assert "TELEGRAM_BOT_TOKEN" in caplog.text


def test_polling_starts_with_only_the_updates_it_handles(environment, monkeypatch):
    application = FakeApplication()
    monkeypatch.setattr(runner, "build_application", lambda settings: application)
    assert runner.main() == 0
    assert application.started == {"mode": "polling", "allowed_updates": ["message", "callback_query"]}
    assert [group for _, group in application.handlers] == [-1]  # duplicates dropped after a restart too
    assert logging.getLogger("httpx").level == logging.WARNING


def test_the_bot_hands_the_gil_over_more_often_than_cpythons_default(environment, monkeypatch):
    monkeypatch.setattr(runner, "build_application", lambda settings: FakeApplication())
    assert sys.getswitchinterval() == pytest.approx(0.005)  # CPython's default, in this test process
    assert runner.main() == 0
    assert sys.getswitchinterval() == pytest.approx(runner.GIL_SWITCH_INTERVAL_SECONDS)
