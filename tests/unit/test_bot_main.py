import logging

import pytest

from botrunner import __main__ as runner
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
    yield monkeypatch
    logging.getLogger().setLevel(root_level)  # main() sets the process-wide level
    get_settings.cache_clear()


def test_webhook_mode_is_not_supported_yet(environment, caplog, monkeypatch):
    environment.setenv("BOT_MODE", "webhook")
    get_settings.cache_clear()
    monkeypatch.setattr(runner, "build_application", lambda settings: pytest.fail("must not start"))
    with caplog.at_level(logging.ERROR):
        assert runner.main() == 2
    assert "BOT_MODE=webhook is not supported yet" in caplog.text


def test_missing_token_is_named(environment, caplog, monkeypatch):
    environment.setenv("TELEGRAM_BOT_TOKEN", "")
    get_settings.cache_clear()
    monkeypatch.setattr(runner, "build_application", lambda settings: pytest.fail("must not start"))
    with caplog.at_level(logging.ERROR):
        assert runner.main() == 2
    assert "TELEGRAM_BOT_TOKEN" in caplog.text


def test_polling_starts_with_only_the_updates_it_handles(environment, monkeypatch):
    started = {}

    class FakeApplication:
        def run_polling(self, **options):
            started.update(options)

    monkeypatch.setattr(runner, "build_application", lambda settings: FakeApplication())
    assert runner.main() == 0
    assert started == {"allowed_updates": ["message", "callback_query"]}
    assert logging.getLogger("httpx").level == logging.WARNING
