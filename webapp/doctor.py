"""`flask --app wsgi doctor`: the checks behind it, one line each, with how to fix what fails.

Each check runs in a thread of its own and is given a few seconds: a dead or hanging Postgres,
Redis, Telegram or broker makes that line FAIL, never the command hang or crash.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from typing import Callable

import httpx
import psycopg2
import psycopg2.extras
import redis

from core import config_checks, database_guard, migrations, redis_client
from core import email_config
from core.settings import MIN_JWT_KEY_BYTES, ConfigError, Settings, get_settings

OK, WARN, FAIL = "ok", "warn", "FAIL"
CHECK_SECONDS = 8.0
TELEGRAM_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 3
WORKER_PING_SECONDS = 2.0
UNSET_SERVICES = ("DATABASE_URL is not set", "REDIS_URL is not set", "TELEGRAM_BOT_TOKEN is not set")


@dataclasses.dataclass(frozen=True)
class Result:
    """One line of the report."""

    status: str
    name: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        """Return the line printed for this result."""
        text = f"{self.status:<4} {self.name}: {self.detail}"
        return f"{text} -> {self.fix}" if self.fix else text


def run(settings: Settings | None = None) -> list[Result]:
    """Run every check and return the results (settings read from the environment if not given)."""
    if settings is None:
        try:
            settings = get_settings()
        except ConfigError as exc:
            return [Result(FAIL, "settings", str(exc), "fix that variable in .env or the environment")]
    results = check_settings(settings)
    for name, check in (
        ("postgres", check_postgres),
        ("redis", check_redis),
        ("telegram token", check_bot_token),
        ("telegram webhook", check_webhook),
        ("worker", check_worker),
        ("email", check_email),
    ):
        results.append(bounded(name, lambda check=check: check(settings)))
    return results


def bounded(name: str, check: Callable[[], Result], seconds: float = CHECK_SECONDS) -> Result:
    """Run one check in a daemon thread; a check that raises or outlasts `seconds` FAILs."""
    outcome: list[Result] = []

    def target() -> None:
        try:
            outcome.append(check())
        except Exception as exc:  # any failing dependency is a line of the report, not a crash
            outcome.append(Result(FAIL, name, f"{type(exc).__name__}: {_one_line(exc)}", "see the message"))

    thread = threading.Thread(target=target, name=f"doctor-{name}", daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        return Result(FAIL, name, f"no answer within {seconds:.0f} s", "is the service up and the URL right?")
    return outcome[0]


def check_settings(settings: Settings) -> list[Result]:
    """Check the variables: every process's problems, the JWT key and ALLOWED_ORIGINS."""
    results = []
    problems: list[str] = []
    for process in ("web", "worker", "bot"):
        problems += [p for p in settings.problems(process) if p not in problems]
    # The JWT key and the origins have lines of their own below.
    problems = [p for p in problems if not p.startswith(("JWT_SECRET_KEY", "ALLOWED_ORIGINS"))]
    for problem in problems:
        fix = "set it in .env (see .env.example)"
        if problem.startswith(UNSET_SERVICES):
            # The stand-ins of `make run` live in its children's environment only; `make doctor`
            # reads them from the file `make run` keeps while it is up.
            fix += "; to check the stand-ins of a running `make run`, use `make doctor`"
        results.append(Result(FAIL, "settings", problem, fix))
    if not problems:
        results.append(Result(OK, "settings", f"usable for web, worker and bot (APP_ENV={settings.app_env})"))
    results.append(_jwt_key(settings))
    results.append(_allowed_origins(settings))
    results.append(_metrics_token(settings, os.environ.get("HOST") or DEFAULT_WEB_HOST))
    return results


def _jwt_key(settings: Settings) -> Result:
    fix = "JWT_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
    size = len(settings.jwt_secret_key.get_secret_value().encode())
    if size >= MIN_JWT_KEY_BYTES:
        return Result(OK, "jwt key", f"{size} bytes")
    status = WARN if settings.relaxed else FAIL
    what = f"only {size} bytes" if size else "not set" + (": a fixed development key signs tokens" if settings.relaxed else "")
    return Result(status, "jwt key", f"{what} (need {MIN_JWT_KEY_BYTES}+ random bytes outside development)", fix)


def _allowed_origins(settings: Settings) -> Result:
    problems = config_checks.allowed_origins_problems(settings.allowed_origins)
    if not problems:
        return Result(OK, "allowed origins", ", ".join(settings.allowed_origins))
    status = WARN if settings.relaxed else FAIL
    return Result(status, "allowed origins", "; ".join(problems), "ALLOWED_ORIGINS=https://app.example.com")


# The address gunicorn.conf.py binds when HOST is unset.
DEFAULT_WEB_HOST = "127.0.0.1"


def _metrics_token(settings: Settings, web_host: str) -> Result:
    warnings = config_checks.metrics_token_warnings(settings.metrics_token.get_secret_value(), [web_host])
    if warnings:
        return Result(WARN, "metrics", warnings[0], f"METRICS_TOKEN=$({config_checks.GENERATE_SECRET})")
    if settings.metrics_token.get_secret_value():
        return Result(OK, "metrics", "/metrics needs the METRICS_TOKEN")
    return Result(OK, "metrics", f"/metrics is public, but the web binds {web_host} (HOST) only")


def check_postgres(settings: Settings) -> Result:
    """Check that DATABASE_URL answers, has every migration applied and (in production) a role RLS binds."""
    if not settings.database_url:
        return Result(FAIL, "postgres", "DATABASE_URL is not set", "set DATABASE_URL=postgresql://user:pass@host/db")
    try:
        conn = psycopg2.connect(
            settings.database_url, connect_timeout=CONNECT_TIMEOUT_SECONDS, cursor_factory=psycopg2.extras.RealDictCursor
        )
    except psycopg2.Error as exc:
        return Result(FAIL, "postgres", f"cannot connect: {_one_line(exc)}", "start Postgres or fix DATABASE_URL")
    try:
        # Development's superuser is expected; production's processes would refuse it at start.
        unsafe = [] if settings.relaxed else database_guard.problems(conn)
    finally:
        conn.close()
    if unsafe:
        return Result(FAIL, "postgres", "; ".join(unsafe), "see docs/operations.md, 'Database roles'")
    pending = migrations.pending(settings.release_database_url)
    if pending:
        return Result(
            FAIL, "postgres", f"reachable, {len(pending)} migration(s) pending: {', '.join(pending)}",
            "run: .venv/bin/python -m flask --app wsgi db upgrade (`make run` does it when it starts)",
        )
    return Result(OK, "postgres", "reachable, every migration applied")


def check_redis(settings: Settings) -> Result:
    """Check that REDIS_URL answers PING."""
    if not settings.redis_url:
        return Result(FAIL, "redis", "REDIS_URL is not set", "set REDIS_URL=redis://host:6379/0")
    client = redis_client.new_client(settings.redis_url, redis_client.DIAGNOSIS)
    try:
        client.ping()
    except redis.RedisError as exc:
        return Result(FAIL, "redis", f"cannot connect: {_one_line(exc)}", "start Redis or fix REDIS_URL")
    finally:
        client.close()
    return Result(OK, "redis", "reachable")


def _bot_api(settings: Settings, method: str) -> dict:
    """Call a Bot API method; return its JSON answer (errors answer JSON too)."""
    url = f"{settings.telegram_api_url}/bot{settings.telegram_bot_token.get_secret_value()}/{method}"
    response = httpx.get(url, timeout=TELEGRAM_TIMEOUT_SECONDS)
    return response.json()


def check_bot_token(settings: Settings) -> Result:
    """Check the bot token with getMe."""
    if not settings.telegram_bot_token.get_secret_value():
        return Result(FAIL, "telegram token", "TELEGRAM_BOT_TOKEN is not set", "get a token from @BotFather")
    try:
        answer = _bot_api(settings, "getMe")
    except (httpx.HTTPError, ValueError) as exc:
        # Never the exception text: httpx puts the URL, and so the token, in it.
        return Result(
            FAIL, "telegram token", f"{settings.telegram_api_url} did not answer getMe ({type(exc).__name__})",
            "check TELEGRAM_API_URL and the network",
        )
    if not answer.get("ok"):
        return Result(
            FAIL, "telegram token", f"getMe refused: {answer.get('description', answer.get('error_code'))}",
            "copy the token again from @BotFather (/token)",
        )
    username = answer["result"].get("username", "")
    if settings.telegram_bot_username and settings.telegram_bot_username.lower() != username.lower():
        return Result(
            WARN, "telegram token", f"the token is @{username}'s, TELEGRAM_BOT_USERNAME says @{settings.telegram_bot_username}",
            "fix TELEGRAM_BOT_USERNAME or leave it empty",
        )
    return Result(OK, "telegram token", f"valid, the bot is @{username}")


def check_webhook(settings: Settings) -> Result:
    """Check the webhook state against BOT_MODE with getWebhookInfo."""
    if not settings.telegram_bot_token.get_secret_value():
        return Result(FAIL, "telegram webhook", "cannot check without TELEGRAM_BOT_TOKEN")
    try:
        answer = _bot_api(settings, "getWebhookInfo")
    except (httpx.HTTPError, ValueError) as exc:
        return Result(FAIL, "telegram webhook", f"getWebhookInfo failed ({type(exc).__name__})", "check TELEGRAM_API_URL")
    if not answer.get("ok"):
        return Result(FAIL, "telegram webhook", f"getWebhookInfo refused: {answer.get('description')}")
    info = answer["result"]
    url, last_error = info.get("url", ""), info.get("last_error_message", "")
    if settings.bot_mode == "polling" and url:
        return Result(
            FAIL, "telegram webhook", f"a webhook is set ({url}) while BOT_MODE=polling: getUpdates will be refused",
            "start the bot once (it deletes the webhook) or set BOT_MODE=webhook",
        )
    if settings.bot_mode == "webhook" and url != settings.webhook_url:
        return Result(
            WARN, "telegram webhook", f"Telegram has {url or 'no webhook'}, WEBHOOK_URL is {settings.webhook_url}",
            "start the bot: it registers WEBHOOK_URL",
        )
    if last_error:
        return Result(
            WARN, "telegram webhook", f"Telegram's last delivery error: {last_error}",
            "check that WEBHOOK_URL reaches the bot over https",
        )
    return Result(OK, "telegram webhook", f"{'set to ' + url if url else 'none'}, as BOT_MODE={settings.bot_mode} needs")


def check_worker(settings: Settings) -> Result:
    """Check that at least one Celery worker answers a ping."""
    if not settings.redis_url:
        return Result(FAIL, "worker", "cannot ping without REDIS_URL")
    import tasks  # late: only this check needs Celery

    try:
        with tasks.app.connection_for_write(settings.redis_url) as connection:
            replies = tasks.app.control.ping(timeout=WORKER_PING_SECONDS, connection=connection) or []
    except Exception as exc:  # kombu's errors of every transport
        return Result(FAIL, "worker", f"cannot reach the broker: {_one_line(exc)}", "start Redis or fix REDIS_URL")
    if not replies:
        return Result(
            FAIL, "worker", f"no worker answered a ping within {WORKER_PING_SECONDS:.0f} s",
            "start one: celery -A tasks worker (make run starts everything)",
        )
    return Result(OK, "worker", f"{len(replies)} worker(s) answered")


def check_email(settings: Settings) -> Result:
    """Connect to SMTP_URL, upgrade to TLS and log in as the worker will (nothing is sent)."""
    smtp_url = settings.smtp_url.get_secret_value()
    if not smtp_url:
        note = " (EMAIL_LOGIN=on has no effect)" if settings.email_login == "on" else ""
        return Result(OK, "email", f"SMTP_URL not set: email is off, its endpoints answer 503{note}")
    from mail_sender import smtp  # only with email configured

    server = email_config.parse_smtp_url(smtp_url)
    where = f"{server.host}:{server.port}"
    try:
        reply = smtp.check(smtp_url, timeout=CONNECT_TIMEOUT_SECONDS)
    except Exception as exc:
        # The message may quote the server, never our URL: the password stays out of the report.
        detail = f"{where}: {type(exc).__name__}: {_one_line(exc)}".replace(server.password or "\0", "***")
        return Result(FAIL, "email", detail, "check SMTP_URL's host, port, user and password, and that the server is up")
    login = f" as {server.username}" if server.username else ""
    return Result(OK, "email", f"{where} answers{login} ({reply[:60]})")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
