"""Settings, read once from the environment (and `.env`), shared by every process."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

import limits

from core import config_checks

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Environments in which a missing JWT key may fall back to an insecure fixed one.
RELAXED_ENVIRONMENTS = ("development", "test")
INSECURE_DEV_JWT_KEY = "insecure-development-key-never-use-in-production-0123456789"
MIN_JWT_KEY_BYTES = 32
# The processes of the Procfile whose settings `problems()` checks (`release` runs as `web`).
PROCESSES = ("web", "worker", "bot", "beat")


# Settings written in the limits library's notation ("10/minute", "3 per 10 minutes").
RATE_LIMIT_SETTINGS = (
    "rate_limit_init_per_ip",
    "rate_limit_init_per_phone",
    "rate_limit_refresh_per_family",
    "rate_limit_refresh_per_ip",
    "telegram_send_rate",
)


class ConfigError(Exception):
    """The configuration is unusable; the message lists every problem."""


@dataclass(frozen=True)
class Settings:
    """Every setting of the product, with the defaults of the contract in DESIGN.md."""

    app_env: str = "production"
    database_url: str = ""
    migration_database_url: str = ""
    redis_url: str = ""
    telegram_bot_token: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    telegram_bot_username: str = ""
    jwt_secret_key: str = ""
    jwt_issuer: str = "dance-of-mind"
    jwt_audience: str = "dance-of-mind-web"
    access_token_ttl: int = 1800
    refresh_token_ttl: int = 604800
    auth_session_ttl: int = 300
    poll_interval: int = 2
    allowed_origins: tuple[str, ...] = ()
    default_phone_region: str = "RU"
    approval_mode: str = "match"
    match_cooldown_seconds: int = 300
    prompt_pause_seconds: int = 3600
    bot_mode: str = "polling"
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    bot_default_language: str = "ru"
    site_name: str = "Dance of Mind"
    rate_limit_init_per_ip: str = "10/minute"
    rate_limit_init_per_phone: str = "3/10 minutes"
    rate_limit_refresh_per_family: str = "30/hour"
    rate_limit_refresh_per_ip: str = "60/minute"
    rate_limit_poll_burst: int = 2
    # Waiting long polls (`?wait=`) one client address may hold at once, across all web processes.
    max_waiting_polls_per_client: int = 50
    telegram_send_rate: str = "25/second"
    log_level: str = "INFO"
    log_format: str = "text"
    db_pool_size: int = 8
    db_pool_wait: float = 5.0
    db_connect_timeout: int = 3
    max_body_bytes: int = 16 * 1024
    trusted_proxy_count: int = 0
    # Prompts one phone may receive across all clients (limits notation); over it, /init still
    # answers 201 and the prompt waits for the login's own bot_url.
    prompt_budget_per_phone: str = "3/10 minutes"
    # How long a login may be refreshed for, and the token /metrics asks for (empty: public).
    login_max_age: int = 2592000
    metrics_token: str = ""
    # Days after which finished logins and ended token families are deleted (core/retention.py).
    retention_days: int = 30
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def relaxed(self) -> bool:
        """Tell whether this is a development or test environment."""
        return self.app_env in RELAXED_ENVIRONMENTS

    @property
    def effective_jwt_secret_key(self) -> str:
        """Return the JWT key, or the fixed insecure one in dev/test when none is set."""
        if not self.jwt_secret_key and self.relaxed:
            return INSECURE_DEV_JWT_KEY
        return self.jwt_secret_key

    @property
    def release_database_url(self) -> str:
        """Return the URL migrations run with: MIGRATION_DATABASE_URL, else DATABASE_URL."""
        return self.migration_database_url or self.database_url

    def problems(self, process: str = "web") -> list[str]:
        """List what is wrong with these settings for one process (empty when they are usable)."""
        if process not in PROCESSES:
            raise ValueError(f"process must be one of {PROCESSES}, got {process!r}")
        found = []
        if not self.database_url:
            found.append("DATABASE_URL is not set")
        if not self.redis_url:
            found.append("REDIS_URL is not set")
        if self.approval_mode not in ("simple", "match"):
            found.append("APPROVAL_MODE must be 'simple' or 'match'")
        if self.bot_mode not in ("polling", "webhook"):
            found.append("BOT_MODE must be 'polling' or 'webhook'")
        for name in RATE_LIMIT_SETTINGS:
            if not is_rate_limit(getattr(self, name)):
                found.append(f"{name.upper()} must be a rate limit such as '10/minute', got {getattr(self, name)!r}")
        if self.log_format not in ("text", "json"):
            found.append(f"LOG_FORMAT must be 'text' or 'json', got {self.log_format!r}")
        if self.rate_limit_poll_burst < 0:
            found.append("RATE_LIMIT_POLL_BURST must be 0 or more")
        if self.max_waiting_polls_per_client <= 0:
            found.append("MAX_WAITING_POLLS_PER_CLIENT must be a positive number")
        for name in (
            "access_token_ttl",
            "refresh_token_ttl",
            "auth_session_ttl",
            "poll_interval",
            "match_cooldown_seconds",
            "prompt_pause_seconds",
        ):
            if getattr(self, name) <= 0:
                found.append(f"{name.upper()} must be a positive number of seconds")
        if not is_rate_limit(self.prompt_budget_per_phone):
            found.append(
                f"PROMPT_BUDGET_PER_PHONE must be a rate limit such as '3/10 minutes', got {self.prompt_budget_per_phone!r}"
            )
        if self.login_max_age <= 0:
            found.append("LOGIN_MAX_AGE must be a positive number of seconds")
        if self.retention_days <= 0:
            found.append("RETENTION_DAYS must be a positive number of days")
        if process in ("worker", "bot") and not self.telegram_bot_token:
            found.append("TELEGRAM_BOT_TOKEN is not set")
        if process == "bot" and self.bot_mode == "webhook":
            found += config_checks.webhook_problems(
                self.webhook_url, self.webhook_secret, self.webhook_port, self.relaxed, self.telegram_api_url
            )
        if self.relaxed:
            return found
        # The production guard. Only the web app signs tokens and answers browsers, so only it
        # needs the JWT key and the origins: the bot and the worker need not be given them.
        if process == "web" and len(self.jwt_secret_key.encode()) < MIN_JWT_KEY_BYTES:
            found.append(
                f"JWT_SECRET_KEY must be at least {MIN_JWT_KEY_BYTES} random bytes outside "
                "development/test (generate one: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if process == "web":
            found += config_checks.allowed_origins_problems(self.allowed_origins)
        if process == "web" and self.jwt_secret_key == INSECURE_DEV_JWT_KEY:
            found.append(
                "JWT_SECRET_KEY is the published development key: anyone can sign tokens with it "
                "(generate one: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        found += config_checks.telegram_api_url_problems(self.telegram_api_url)
        found += config_checks.database_password_problems("DATABASE_URL", self.database_url)
        found += config_checks.database_password_problems("MIGRATION_DATABASE_URL", self.migration_database_url)
        return found

    def ensure_usable(self, process: str = "web") -> None:
        """Raise ConfigError naming every problem for `process`, one per line, if there is any."""
        found = self.problems(process)
        if found:
            raise ConfigError(f"refusing to start the {process} process:\n" + "\n".join(f"  - {p}" for p in found))

    def with_overrides(self, **overrides: Any) -> "Settings":
        """Return a copy with some settings replaced (used by tests and create_app)."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        return replace(self, **overrides)


def is_rate_limit(text: str) -> bool:
    """Tell whether `text` is one positive rate limit in the limits library's notation, e.g. '10/minute'."""
    try:
        parsed = limits.parse_many(text)
    except ValueError:
        return False
    return len(parsed) == 1 and parsed[0].amount > 0


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _str(environ: Mapping[str, str], name: str, default: str) -> str:
    return environ.get(name, "").strip() or default


def from_environ(environ: Mapping[str, str]) -> Settings:
    """Build settings from an environment mapping, applying the contract's defaults."""
    defaults = Settings()
    origins = tuple(o.strip().rstrip("/") for o in environ.get("ALLOWED_ORIGINS", "").split(",") if o.strip())
    return Settings(
        app_env=_str(environ, "APP_ENV", defaults.app_env).lower(),
        database_url=_str(environ, "DATABASE_URL", ""),
        migration_database_url=_str(environ, "MIGRATION_DATABASE_URL", ""),
        redis_url=_str(environ, "REDIS_URL", ""),
        telegram_bot_token=_str(environ, "TELEGRAM_BOT_TOKEN", ""),
        telegram_api_url=_str(environ, "TELEGRAM_API_URL", defaults.telegram_api_url).rstrip("/"),
        telegram_bot_username=_str(environ, "TELEGRAM_BOT_USERNAME", "").lstrip("@"),
        jwt_secret_key=environ.get("JWT_SECRET_KEY", ""),
        access_token_ttl=_int(environ, "ACCESS_TOKEN_TTL", defaults.access_token_ttl),
        refresh_token_ttl=_int(environ, "REFRESH_TOKEN_TTL", defaults.refresh_token_ttl),
        auth_session_ttl=_int(environ, "AUTH_SESSION_TTL", defaults.auth_session_ttl),
        poll_interval=_int(environ, "POLL_INTERVAL", defaults.poll_interval),
        allowed_origins=origins,
        default_phone_region=_str(environ, "DEFAULT_PHONE_REGION", defaults.default_phone_region).upper(),
        approval_mode=_str(environ, "APPROVAL_MODE", defaults.approval_mode).lower(),
        match_cooldown_seconds=_int(environ, "MATCH_COOLDOWN_SECONDS", defaults.match_cooldown_seconds),
        prompt_pause_seconds=_int(environ, "PROMPT_PAUSE_SECONDS", defaults.prompt_pause_seconds),
        bot_mode=_str(environ, "BOT_MODE", defaults.bot_mode).lower(),
        webhook_url=_str(environ, "WEBHOOK_URL", ""),
        webhook_secret=environ.get("WEBHOOK_SECRET", ""),
        webhook_listen=_str(environ, "WEBHOOK_LISTEN", defaults.webhook_listen),
        webhook_port=_int(environ, "WEBHOOK_PORT", defaults.webhook_port),
        bot_default_language=_str(environ, "BOT_DEFAULT_LANGUAGE", defaults.bot_default_language).lower(),
        site_name=_str(environ, "SITE_NAME", defaults.site_name),
        rate_limit_init_per_ip=_str(environ, "RATE_LIMIT_INIT_PER_IP", defaults.rate_limit_init_per_ip),
        rate_limit_init_per_phone=_str(environ, "RATE_LIMIT_INIT_PER_PHONE", defaults.rate_limit_init_per_phone),
        rate_limit_refresh_per_family=_str(
            environ, "RATE_LIMIT_REFRESH_PER_FAMILY", defaults.rate_limit_refresh_per_family
        ),
        rate_limit_refresh_per_ip=_str(environ, "RATE_LIMIT_REFRESH_PER_IP", defaults.rate_limit_refresh_per_ip),
        rate_limit_poll_burst=_int(environ, "RATE_LIMIT_POLL_BURST", defaults.rate_limit_poll_burst),
        max_waiting_polls_per_client=_int(
            environ, "MAX_WAITING_POLLS_PER_CLIENT", defaults.max_waiting_polls_per_client
        ),
        telegram_send_rate=_str(environ, "TELEGRAM_SEND_RATE", defaults.telegram_send_rate),
        log_level=_str(environ, "LOG_LEVEL", defaults.log_level).upper(),
        log_format=_str(environ, "LOG_FORMAT", defaults.log_format).lower(),
        db_pool_size=_int(environ, "DB_POOL_SIZE", defaults.db_pool_size),
        db_pool_wait=_float(environ, "DB_POOL_WAIT", defaults.db_pool_wait),
        trusted_proxy_count=_int(environ, "TRUSTED_PROXY_COUNT", defaults.trusted_proxy_count),
        prompt_budget_per_phone=_str(environ, "PROMPT_BUDGET_PER_PHONE", defaults.prompt_budget_per_phone),
        login_max_age=_int(environ, "LOGIN_MAX_AGE", defaults.login_max_age),
        metrics_token=environ.get("METRICS_TOKEN", "").strip(),
        retention_days=_int(environ, "RETENTION_DAYS", defaults.retention_days),
    )


def load_dotenv_file() -> None:
    """Read `.env` from the project root into the environment, never overriding real variables."""
    try:
        from dotenv import load_dotenv
    except ImportError:  # python-dotenv is a runtime dependency; tolerate its absence in tooling
        return
    load_dotenv(PROJECT_ROOT / ".env", override=False)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from `.env` and the environment."""
    load_dotenv_file()
    return from_environ(os.environ)
