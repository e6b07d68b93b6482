import pytest

from core import settings as settings_module
from core.settings import ConfigError, from_environ

BASE = {"DATABASE_URL": "postgresql://db/x", "REDIS_URL": "redis://r/0"}


def test_contract_defaults():
    s = from_environ(BASE)
    assert (s.access_token_ttl, s.refresh_token_ttl, s.auth_session_ttl, s.poll_interval) == (1800, 604800, 300, 2)
    assert s.default_phone_region == "RU"
    assert s.bot_mode == "polling"
    assert s.bot_default_language == "ru"
    assert s.telegram_api_url == "https://api.telegram.org"
    assert s.allowed_origins == ()


def test_origins_are_split_and_trimmed():
    s = from_environ({**BASE, "ALLOWED_ORIGINS": " https://a.example/ ,https://b.example,, "})
    assert s.allowed_origins == ("https://a.example", "https://b.example")


def test_production_refuses_missing_or_weak_jwt_key():
    assert any("JWT_SECRET_KEY" in p for p in from_environ({**BASE, "APP_ENV": "production"}).problems())
    weak = from_environ({**BASE, "APP_ENV": "production", "JWT_SECRET_KEY": "short"})
    assert any("JWT_SECRET_KEY" in p for p in weak.problems())
    strong = from_environ(
        {**BASE, "APP_ENV": "production", "JWT_SECRET_KEY": "k" * 32, "ALLOWED_ORIGINS": "https://a.example",
         "WEBAUTHN_RP_ID": "a.example", "WEBAUTHN_RP_NAME": "A", "WEBAUTHN_ORIGINS": "https://a.example"}
    )
    assert strong.problems() == []


def test_development_falls_back_to_a_dev_key():
    s = from_environ({**BASE, "APP_ENV": "development"})
    assert s.problems() == []
    assert s.effective_jwt_secret_key == settings_module.INSECURE_DEV_JWT_KEY


def test_bad_numbers_and_modes_are_reported():
    with pytest.raises(ConfigError):
        from_environ({**BASE, "ACCESS_TOKEN_TTL": "soon"})
    problems = from_environ({**BASE, "APP_ENV": "test", "APPROVAL_MODE": "yolo", "POLL_INTERVAL": "0"}).problems()
    assert any("APPROVAL_MODE" in p for p in problems) and any("POLL_INTERVAL" in p for p in problems)


def test_overrides_refuse_unknown_names():
    with pytest.raises(ConfigError):
        from_environ(BASE).with_overrides(not_a_setting=1)


def test_number_matching_is_the_default_with_its_holds():
    s = from_environ(BASE)
    assert (s.approval_mode, s.match_cooldown_seconds, s.prompt_pause_seconds) == ("match", 300, 3600)
    custom = from_environ({**BASE, "APPROVAL_MODE": "SIMPLE", "MATCH_COOLDOWN_SECONDS": "60", "PROMPT_PAUSE_SECONDS": "0"})
    assert (custom.approval_mode, custom.match_cooldown_seconds) == ("simple", 60)
    assert any("PROMPT_PAUSE_SECONDS" in p for p in custom.problems())


def test_every_wrong_type_is_one_sentence_naming_its_variable():
    with pytest.raises(ConfigError) as refused:
        from_environ({**BASE, "ACCESS_TOKEN_TTL": "soon", "DB_POOL_WAIT": "later", "WEBHOOK_PORT": "8.5"})
    assert str(refused.value).splitlines() == [
        "ACCESS_TOKEN_TTL must be an integer, got 'soon'",
        "WEBHOOK_PORT must be an integer, got '8.5'",
        "DB_POOL_WAIT must be a number, got 'later'",
    ]


def test_secrets_never_show_in_the_settings_repr():
    secrets = {name: f"{name}-value-{'x' * 32}" for name in ("JWT_SECRET_KEY", "TELEGRAM_BOT_TOKEN", "WEBHOOK_SECRET", "METRICS_TOKEN")}
    s = from_environ({**BASE, **secrets})
    assert not any(value in repr(s) or value in str(s) for value in secrets.values())
    assert s.telegram_bot_token.get_secret_value() == secrets["TELEGRAM_BOT_TOKEN"]


def test_each_setting_is_described_and_the_bare_constructor_ignores_the_environment(monkeypatch):
    assert all(info.description for info in settings_module.Settings.model_fields.values())
    monkeypatch.setenv("DATABASE_URL", "postgresql://from-the-environment/x")
    assert settings_module.Settings().database_url == ""
