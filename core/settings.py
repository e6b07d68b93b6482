"""Settings, read once from the environment (and `.env`), shared by every process.

Each variable is one field of `Settings`: its type, its default (the contract's, DESIGN.md) and
what it means. The environment variable is the field's name in capitals.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated, Any, Callable, Mapping

import limits
from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core import config_checks, email_config

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
    "rate_limit_passkey_per_ip",
    "telegram_send_rate",
    "rate_limit_email_per_address",
    "rate_limit_email_per_ip",
)

# What pydantic's error types mean, said the way an operator reads a variable.
TYPE_PROBLEMS = {"int_parsing": "must be an integer", "float_parsing": "must be a number"}


class ConfigError(Exception):
    """The configuration is unusable; the message lists every problem."""


def _normalised(transform: Callable[[str], str]) -> BeforeValidator:
    """Return a validator that strips a text value and applies `transform` (other values pass)."""
    return BeforeValidator(lambda value: transform(value.strip()) if isinstance(value, str) else value)


def _origins(value: Any) -> Any:
    """Split a comma-separated list of origins, trimming spaces and trailing slashes."""
    items = value.split(",") if isinstance(value, str) else value
    return tuple(item.strip().rstrip("/") for item in items if item.strip())


Text = Annotated[str, _normalised(str)]
LowerText = Annotated[str, _normalised(str.lower)]
UpperText = Annotated[str, _normalised(str.upper)]
StrippedSecret = Annotated[SecretStr, _normalised(str)]
# Read verbatim: a key's surrounding spaces, if any, are part of it.
Secret = SecretStr


def fixed(default: Any, description: str) -> Any:
    """Declare a setting of the code, not of the environment (tests may still override it)."""
    return Field(default, description=description, json_schema_extra={"environment": False})


class Settings(BaseSettings):
    """Every setting of the product, with the defaults of the contract in DESIGN.md."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    app_env: LowerText = Field("production", description="production, development or test")
    database_url: Text = Field("", description="Postgres URL of the processes' own role")
    migration_database_url: Text = Field("", description="Postgres URL migrations run with (else DATABASE_URL)")
    redis_url: Text = Field("", description="Redis URL: Celery's broker, limits and the status cache")
    telegram_bot_token: StrippedSecret = Field(SecretStr(""), description="the bot's token from @BotFather")
    telegram_api_url: Annotated[str, _normalised(lambda url: url.rstrip("/"))] = Field(
        "https://api.telegram.org", description="the Bot API server"
    )
    telegram_bot_username: Annotated[str, _normalised(lambda name: name.lstrip("@"))] = Field(
        "", description="the bot's @username (asked of getMe when empty)"
    )
    jwt_secret_key: Secret = Field(SecretStr(""), description="the key that signs access and refresh tokens")
    jwt_issuer: str = fixed("dance-of-mind", "the tokens' iss claim")
    jwt_audience: str = fixed("dance-of-mind-web", "the tokens' aud claim")
    access_token_ttl: int = Field(1800, description="seconds an access token lives")
    refresh_token_ttl: int = Field(604800, description="seconds a refresh token lives")
    auth_session_ttl: int = Field(300, description="seconds a login waits for its tap")
    poll_interval: int = Field(2, description="seconds between status polls")
    allowed_origins: Annotated[tuple[str, ...], BeforeValidator(_origins)] = Field(
        (), description="the frontend's origins, comma-separated"
    )
    default_phone_region: UpperText = Field("RU", description="region of phone numbers written without +")
    approval_mode: LowerText = Field("match", description="'match' (pick the site's number) or 'simple'")
    match_cooldown_seconds: int = Field(300, description="seconds approvals are blocked after a wrong number")
    prompt_pause_seconds: int = Field(3600, description="seconds prompts pause after 'Not me'")
    bot_mode: LowerText = Field("polling", description="'polling' or 'webhook'")
    webhook_url: Text = Field("", description="the public https URL Telegram posts updates to")
    webhook_secret: Secret = Field(SecretStr(""), description="the secret Telegram sends with every update")
    webhook_listen: Text = Field("127.0.0.1", description="address the webhook server binds")
    webhook_port: int = Field(8443, description="port the webhook server binds")
    bot_default_language: LowerText = Field("ru", description="the bot's language when Telegram gives none")
    site_name: Text = Field("Dance of Mind", description="the site's name in the bot's messages")
    rate_limit_init_per_ip: Text = Field("10/minute", description="/init per client address")
    rate_limit_init_per_phone: Text = Field("3/10 minutes", description="/init per phone and client")
    rate_limit_refresh_per_family: Text = Field("30/hour", description="/refresh per login")
    rate_limit_refresh_per_ip: Text = Field("60/minute", description="/refresh per client address")
    rate_limit_poll_burst: int = Field(2, description="status polls allowed ahead of POLL_INTERVAL")
    max_waiting_polls_per_client: int = Field(
        50, description="waiting long polls (?wait=) one client address may hold at once, across all web processes"
    )
    telegram_send_rate: Text = Field("30/second", description="new messages per window, all processes together (Telegram: ~30/s per bot)")
    log_level: UpperText = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_format: LowerText = Field("text", description="'text' or 'json'")
    db_pool_size: int = Field(8, description="Postgres connections per process")
    db_pool_wait: float = Field(5.0, description="seconds to wait for a pooled connection")
    db_connect_timeout: int = fixed(3, "seconds to wait for a new Postgres connection")
    max_body_bytes: int = fixed(16 * 1024, "the largest request body the web app reads")
    trusted_proxy_count: int = Field(0, description="reverse proxies in front of the web app (X-Forwarded-For)")
    prompt_budget_per_phone: Text = Field(
        "3/10 minutes",
        description="prompts one phone may receive across all clients; over it, /init still answers 201 "
        "and the prompt waits for the login's own bot_url",
    )
    login_max_age: int = Field(2592000, description="seconds a login may be refreshed for")
    metrics_token: StrippedSecret = Field(SecretStr(""), description="the token /metrics asks for (empty: public)")
    retention_days: int = Field(30, description="days after which finished logins and ended token families go")
    webauthn_rp_id: LowerText = Field("", description="passkeys: the relying party id, the site's domain (dev: localhost)")
    webauthn_rp_name: Text = Field("", description="passkeys: the site's name browsers show (dev: SITE_NAME)")
    webauthn_origins: Annotated[tuple[str, ...], BeforeValidator(_origins)] = Field(
        (), description="passkeys: the origins allowed to use them, comma-separated (dev: the web's own on localhost)"
    )
    rate_limit_passkey_per_ip: Text = Field("30/minute", description="passkey options and verify calls per client address")
    smtp_url: StrippedSecret = Field(
        SecretStr(""),
        description="smtp://user:pass@host:587 (STARTTLS), smtps://user:pass@host:465 (TLS), or smtp://host:port "
        "(a local relay, no credentials); empty: no email",
    )
    email_from: Text = Field(email_config.DEFAULT_EMAIL_FROM, description="the sender of every email")
    email_login: LowerText = Field("off", description="'on': the fallback sign-in by a code sent to a confirmed email")
    public_base_url: Annotated[str, _normalised(lambda url: url.rstrip("/"))] = Field(
        "http://127.0.0.1:8000", description="the web app's public address, for links in emails"
    )
    rate_limit_email_per_address: Text = Field(
        "3/10 minutes", description="codes mailed to one address (email sign-in, confirmation)"
    )
    rate_limit_email_per_ip: Text = Field("10/minute", description="email code requests per client address")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Build from the arguments only: `Settings()` is the contract's defaults; `from_environ` reads variables."""
        return (init_settings,)

    @property
    def relaxed(self) -> bool:
        """Tell whether this is a development or test environment."""
        return self.app_env in RELAXED_ENVIRONMENTS

    @property
    def effective_jwt_secret_key(self) -> str:
        """Return the JWT key, or the fixed insecure one in dev/test when none is set."""
        key = self.jwt_secret_key.get_secret_value()
        if not key and self.relaxed:
            return INSECURE_DEV_JWT_KEY
        return key

    @property
    def email_enabled(self) -> bool:
        """Tell whether email can be sent (SMTP_URL is set)."""
        return bool(self.smtp_url.get_secret_value())

    @property
    def email_login_enabled(self) -> bool:
        """Tell whether the fallback sign-in by email code is on (EMAIL_LOGIN=on and email can be sent)."""
        return self.email_login == "on" and self.email_enabled

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
        found += email_config.problems(self.email_login, self.smtp_url.get_secret_value(), self.relaxed,
                                              self.email_from, self.public_base_url)
        if process in ("worker", "bot") and not self.telegram_bot_token:
            found.append("TELEGRAM_BOT_TOKEN is not set")
        if process == "bot" and self.bot_mode == "webhook":
            found += config_checks.webhook_problems(
                self.webhook_url,
                self.webhook_secret.get_secret_value(),
                self.webhook_port, self.relaxed, self.telegram_api_url
            )
        if self.relaxed:
            return found
        # The production guard. Only the web app signs tokens and answers browsers, so only it
        # needs the JWT key and the origins: the bot and the worker need not be given them.
        jwt_secret_key = self.jwt_secret_key.get_secret_value()
        if process == "web" and len(jwt_secret_key.encode()) < MIN_JWT_KEY_BYTES:
            found.append(
                f"JWT_SECRET_KEY must be at least {MIN_JWT_KEY_BYTES} random bytes outside "
                "development/test (generate one: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if process == "web":
            found += config_checks.allowed_origins_problems(self.allowed_origins)
            found += config_checks.webauthn_problems(self.webauthn_rp_id, self.webauthn_rp_name, self.webauthn_origins)
        if process == "web" and jwt_secret_key == INSECURE_DEV_JWT_KEY:
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
        unknown = set(overrides) - set(type(self).model_fields)
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        return _validated(type(self), {**dict(self), **overrides})


def is_rate_limit(text: str) -> bool:
    """Tell whether `text` is one positive rate limit in the limits library's notation, e.g. '10/minute'."""
    try:
        parsed = limits.parse_many(text)
    except ValueError:
        return False
    return len(parsed) == 1 and parsed[0].amount > 0


def environment_name(field_name: str) -> str:
    """Return the environment variable of a setting."""
    return field_name.upper()


def from_environ(environ: Mapping[str, str]) -> Settings:
    """Build settings from an environment mapping; a blank or absent variable keeps its default.

    Raises ConfigError naming every variable whose value has the wrong type, one per line.
    """
    values = {
        name: raw
        for name, info in Settings.model_fields.items()
        if (info.json_schema_extra or {}).get("environment", True)
        and (raw := environ.get(environment_name(name), "")).strip()
    }
    return _validated(Settings, values)


def _validated(cls: type[Settings], values: Mapping[str, Any]) -> Settings:
    """Build `cls` from `values`; raise one ConfigError with a sentence per wrong value."""
    try:
        return cls(**values)
    except ValidationError as exc:
        sentences = []
        for error in exc.errors(include_url=False):
            name = str(error["loc"][0]) if error["loc"] else ""
            problem = TYPE_PROBLEMS.get(error["type"], error["msg"][:1].lower() + error["msg"][1:])
            shown = "" if _is_secret(name) else f", got {values.get(name)!r}"
            sentences.append(f"{environment_name(name) or 'settings'} {problem}{shown}")
        raise ConfigError("\n".join(sentences)) from None


def _is_secret(name: str) -> bool:
    info = Settings.model_fields.get(name)
    return info is not None and info.annotation is SecretStr


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
