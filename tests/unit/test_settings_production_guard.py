"""The production guard: outside development/test, weak settings keep every process from starting."""

import pytest

from core.settings import INSECURE_DEV_JWT_KEY, ConfigError, from_environ

STRONG_KEY = "k" * 48
STRONG_DB_PASSWORD = "Vq3xN8pL2rT7wY4z"
PRODUCTION = {
    "APP_ENV": "production",
    "DATABASE_URL": f"postgresql://dance:{STRONG_DB_PASSWORD}@db.internal:5432/dance",
    "REDIS_URL": "redis://r/0",
    "TELEGRAM_BOT_TOKEN": "1:AAAAAAAAAAAAAAAAAAAAAAAAA",
    "JWT_SECRET_KEY": STRONG_KEY,
    "ALLOWED_ORIGINS": "https://app.example.com",
    "WEBAUTHN_RP_ID": "example.com",
    "WEBAUTHN_RP_NAME": "Example",
    "WEBAUTHN_ORIGINS": "https://app.example.com",
}
WEBHOOK = {
    "BOT_MODE": "webhook",
    "WEBHOOK_URL": "https://bot.example.com/telegram/updates",
    "WEBHOOK_SECRET": "s" * 43,
}


def problems(process: str = "web", **environ: str) -> list[str]:
    return from_environ({**PRODUCTION, **environ}).problems(process)


@pytest.mark.parametrize("process", ["web", "worker", "bot", "beat"])
def test_a_sound_production_configuration_starts_every_process(process):
    assert problems(process) == []
    assert problems(process, **WEBHOOK) == []


def test_the_web_app_refuses_an_empty_allowed_origins():
    assert problems(ALLOWED_ORIGINS="") == [
        "ALLOWED_ORIGINS is empty: list the https origins of your frontend, comma-separated"
    ]


@pytest.mark.parametrize("origin", ["*", "http://app.example.com", "https://app.example.com/login", "app.example.com"])
def test_the_web_app_refuses_a_wildcard_plain_http_or_malformed_origin(origin):
    [problem] = problems(ALLOWED_ORIGINS=f"https://ok.example,{origin}")
    assert "ALLOWED_ORIGINS" in problem and origin in problem


@pytest.mark.parametrize(
    "password", ["postgres", "password", "changeme", "admin", "root", "secret", "ChangeMe", "dance", "short-pw"]
)
def test_every_process_refuses_a_default_or_weak_database_password(password):
    url = f"postgresql://dance:{password}@db.internal:5432/dance"
    for process in ("web", "worker", "bot"):
        [problem] = problems(process, DATABASE_URL=url)
        assert problem.startswith("DATABASE_URL")
        assert url not in problem  # the guard never prints the URL (and its password)


def test_the_password_is_found_in_key_value_dsns_and_query_strings():
    assert problems(DATABASE_URL="host=db.internal dbname=dance user=dance password=postgres")
    assert problems(DATABASE_URL="postgresql://dance@db.internal/dance?password=changeme")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql:///dance?host=/var/run/postgresql",  # unix socket: peer authentication
        "postgresql://dance@db.internal/dance",  # password from PGPASSWORD, ~/.pgpass or a certificate
    ],
)
def test_a_url_without_a_password_is_not_judged(url):
    assert problems(DATABASE_URL=url) == []


def test_the_migration_url_is_held_to_the_same_rule():
    [problem] = problems(MIGRATION_DATABASE_URL="postgresql://owner:admin@db.internal/dance")
    assert problem.startswith("MIGRATION_DATABASE_URL")


def test_only_the_web_app_needs_the_jwt_key_and_the_origins():
    # The bot and the worker never sign tokens nor answer browsers: they need not hold the key.
    for process in ("worker", "bot"):
        assert problems(process, JWT_SECRET_KEY="", ALLOWED_ORIGINS="") == []
    assert any("JWT_SECRET_KEY" in p for p in problems("web", JWT_SECRET_KEY="short"))


def test_the_bot_and_the_worker_need_the_telegram_token():
    for process in ("worker", "bot"):
        assert problems(process, TELEGRAM_BOT_TOKEN="") == ["TELEGRAM_BOT_TOKEN is not set"]
    assert problems("web", TELEGRAM_BOT_TOKEN="") == []


def test_webhook_mode_refuses_a_missing_secret_even_in_development():
    for app_env in ("production", "development"):
        [problem] = problems("bot", **{**WEBHOOK, "APP_ENV": app_env, "WEBHOOK_SECRET": ""})
        assert problem.startswith("WEBHOOK_SECRET must be 1-256 characters of A-Za-z0-9_-")


@pytest.mark.parametrize("secret", ["has space", "semi;colon", "é" * 10, "x" * 257])
def test_webhook_secret_must_be_in_telegrams_alphabet(secret):
    [problem] = problems("bot", APP_ENV="test", **{**WEBHOOK, "WEBHOOK_SECRET": secret})
    assert "WEBHOOK_SECRET" in problem


def test_production_webhook_needs_a_long_secret_and_https():
    [short] = problems("bot", **{**WEBHOOK, "WEBHOOK_SECRET": "abc"})
    assert "at least 32" in short
    [plain] = problems("bot", **{**WEBHOOK, "WEBHOOK_URL": "http://bot.example.com/telegram"})
    assert "https" in plain
    relaxed = problems("bot", APP_ENV="test", **{**WEBHOOK, "WEBHOOK_SECRET": "abc", "WEBHOOK_URL": "http://127.0.0.1:9/x"})
    assert relaxed == []


@pytest.mark.parametrize("api_url", ["https://api.telegram.org", "https://API.telegram.org/", "http://api.telegram.org"])
def test_production_webhook_through_telegrams_cloud_must_be_https(api_url):
    found = problems("bot", **{**WEBHOOK, "TELEGRAM_API_URL": api_url, "WEBHOOK_URL": "http://bot.example.com/hook"})
    # (A plain-http cloud API is refused on its own too: see the TELEGRAM_API_URL tests.)
    assert [p for p in found if p.startswith("WEBHOOK_URL")] == [found[0]]
    assert found[0].startswith("WEBHOOK_URL must be an https URL")


@pytest.mark.parametrize("webhook_url", ["http://bot:8443/telegram/updates", "http://10.0.0.5:8443/hook"])
def test_production_webhook_through_a_self_hosted_bot_api_server_may_be_http(webhook_url):
    # telegram-bot-api --local posts to http and to local addresses.
    self_hosted = {**WEBHOOK, "TELEGRAM_API_URL": "http://telegram-bot-api:8081", "WEBHOOK_URL": webhook_url}
    assert problems("bot", **self_hosted) == []
    # The secret is still required there: anyone who reaches the listener could post updates.
    [short] = problems("bot", **{**self_hosted, "WEBHOOK_SECRET": "abc"})
    assert "at least 32" in short


def test_webhook_mode_needs_a_url_and_a_port():
    found = problems("bot", **{**WEBHOOK, "WEBHOOK_URL": "", "WEBHOOK_PORT": "70000"})
    assert [p.split()[0] for p in found] == ["WEBHOOK_URL", "WEBHOOK_PORT"]
    assert problems("bot", **{**WEBHOOK, "BOT_MODE": "polling", "WEBHOOK_SECRET": ""}) == []


def test_webhook_settings_default_to_a_local_listener_on_8443():
    settings = from_environ(PRODUCTION)
    assert (settings.webhook_listen, settings.webhook_port) == ("127.0.0.1", 8443)


def test_development_and_test_skip_the_production_rules():
    relaxed = {"JWT_SECRET_KEY": "", "ALLOWED_ORIGINS": "", "DATABASE_URL": "postgresql://postgres:postgres@localhost/x"}
    for app_env in ("development", "test"):
        assert problems("web", APP_ENV=app_env, **relaxed) == []


def test_ensure_usable_names_every_problem_on_its_own_line():
    settings = from_environ({**PRODUCTION, "JWT_SECRET_KEY": "", "ALLOWED_ORIGINS": ""})
    with pytest.raises(ConfigError) as refused:
        settings.ensure_usable("web")
    lines = str(refused.value).splitlines()
    assert lines[0] == "refusing to start the web process:"
    assert [line.split()[1] for line in lines[1:]] == ["JWT_SECRET_KEY", "ALLOWED_ORIGINS"]


def test_release_uses_the_migration_url_when_set():
    assert from_environ(PRODUCTION).release_database_url == PRODUCTION["DATABASE_URL"]
    owner = f"postgresql://owner:{STRONG_DB_PASSWORD}@db.internal/dance"
    assert from_environ({**PRODUCTION, "MIGRATION_DATABASE_URL": owner}).release_database_url == owner


@pytest.mark.parametrize(
    "api_url",
    ["http://api.telegram.org", "http://bot-api.example.com:8081", "http://149.154.167.220:8081", "http://[2001:67c:4e8:f004::9]:80"],
)
@pytest.mark.parametrize("process", ["web", "worker", "bot", "beat"])
def test_every_process_refuses_a_plain_http_telegram_api_beyond_the_local_network(api_url, process):
    # Every Bot API request carries the bot token in its path: plain http shows it to the network.
    [problem] = problems(process, TELEGRAM_API_URL=api_url)
    assert problem.startswith("TELEGRAM_API_URL must be https")


@pytest.mark.parametrize(
    "api_url",
    [
        "https://api.telegram.org",
        "https://bot-api.example.com",
        "http://127.0.0.1:8081",  # the emulator, a Bot API server on this machine
        "http://localhost:8081",
        "http://[::1]:8081",
        "http://telegram-bot-api:8081",  # a compose service: one label, resolved only locally
        "http://10.0.0.5:8081",
        "http://192.168.1.20:8081",
        "http://[fd00::5]:8081",
    ],
)
def test_https_or_a_local_or_private_plain_http_telegram_api_is_accepted(api_url):
    assert problems("worker", TELEGRAM_API_URL=api_url) == []


def test_development_may_use_any_telegram_api_url():
    assert problems("bot", APP_ENV="development", TELEGRAM_API_URL="http://bot-api.example.com") == []


def test_the_web_app_refuses_the_published_development_jwt_key():
    # Long enough to pass the length rule, and printed in this repository for anyone to sign with.
    [problem] = problems("web", JWT_SECRET_KEY=INSECURE_DEV_JWT_KEY)
    assert problem.startswith("JWT_SECRET_KEY is the published development key")
    assert INSECURE_DEV_JWT_KEY not in problem
    assert problems("web", APP_ENV="test", JWT_SECRET_KEY=INSECURE_DEV_JWT_KEY) == []


def test_retention_days_must_be_positive():
    assert from_environ(PRODUCTION).retention_days == 30
    assert from_environ({**PRODUCTION, "RETENTION_DAYS": "7"}).retention_days == 7
    assert problems("worker", RETENTION_DAYS="0") == ["RETENTION_DAYS must be a positive number of days"]


@pytest.mark.parametrize("variable", ["WEBAUTHN_RP_ID", "WEBAUTHN_RP_NAME", "WEBAUTHN_ORIGINS"])
def test_the_web_app_refuses_to_start_without_each_passkey_setting(variable):
    [problem] = problems(**{variable: ""})
    assert problem.startswith(variable)
    assert problems("worker", **{variable: ""}) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"WEBAUTHN_RP_ID": "192.0.2.10", "WEBAUTHN_ORIGINS": "https://192.0.2.10"},
        {"WEBAUTHN_RP_ID": "https://example.com"},
        {"WEBAUTHN_ORIGINS": "http://app.example.com"},
        {"WEBAUTHN_ORIGINS": "https://app.example.org"},
    ],
)
def test_passkeys_need_a_domain_rp_id_and_https_origins_on_it(overrides):
    assert problems(**overrides), overrides
