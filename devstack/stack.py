"""Work out the environment of the processes and start the stand-ins for whatever is unset."""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import MutableMapping

from devstack import PROJECT_ROOT, STATE_DIR
from devstack.mail_service import MailCatcherProcess, preferred_ports
from devstack.services import EmbeddedPostgres, EmbeddedRedis, EmulatorProcess, StartupError, port_is_free

# Shaped like a real token (bot id, colon, 35 characters); only the emulator accepts it.
EMULATOR_BOT_TOKEN = "123456789:devstack-fake-emulator-token-000000"
EMULATOR_PORT = 8081
BOT_USERNAME = "dance_of_mind_bot"
DEV_DATABASE = "dance_of_mind"
DEFAULT_WEB_PORT = 8000
# Looser than production's (10/minute, 3/10 minutes, 300 s), so someone trying the login again and
# again is not locked out; still limits, so a 429 or a cooldown can be seen on purpose.
DEVELOPMENT_LIMITS = {
    "RATE_LIMIT_INIT_PER_IP": "60/minute",
    "RATE_LIMIT_INIT_PER_PHONE": "30/10 minutes",
    "PROMPT_BUDGET_PER_PHONE": "30/10 minutes",
    "MATCH_COOLDOWN_SECONDS": "60",
    "RATE_LIMIT_PASSKEY_PER_IP": "120/minute",
}


@dataclass
class StandIn:
    """One line of the banner: a service, whether we started it, and where it is."""

    name: str
    embedded: bool
    url: str
    note: str = ""


@dataclass
class Stack:
    """The environment for the children, and the stand-ins started for it."""

    env: dict[str, str]
    services: list[StandIn] = field(default_factory=list)

    @property
    def web_port(self) -> int:
        """Return the port the web process will listen on (gunicorn.conf.py honours PORT)."""
        return int(self.env.get("PORT") or DEFAULT_WEB_PORT)


def load_environment(root: Path = PROJECT_ROOT) -> dict[str, str]:
    """Return os.environ updated with `.env`, where the real environment wins."""
    from dotenv import dotenv_values

    values = {k: v for k, v in dotenv_values(root / ".env").items() if v is not None}
    return {**values, **os.environ}


def jwt_secret(state_dir: Path = STATE_DIR) -> str:
    """Return the development JWT key kept in `.devstack/jwt-secret`, creating it once (mode 600)."""
    path = state_dir / "jwt-secret"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)  # 48 random bytes
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def apply_defaults(env: MutableMapping[str, str], state_dir: Path = STATE_DIR) -> None:
    """Fill in the development defaults that `make run` promises (never overriding a value)."""
    port = int(env.get("PORT") or DEFAULT_WEB_PORT)
    if not env.get("APP_ENV"):
        env["APP_ENV"] = "development"
    if not env.get("JWT_SECRET_KEY"):
        env["JWT_SECRET_KEY"] = jwt_secret(state_dir)
    if not env.get("ALLOWED_ORIGINS"):
        env["ALLOWED_ORIGINS"] = f"http://127.0.0.1:{port},http://localhost:{port}"
    if not env.get("PUBLIC_BASE_URL"):
        env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"  # links in emails
    if env["APP_ENV"].lower() == "development":  # APP_ENV=production asks for production's behaviour
        for name, value in DEVELOPMENT_LIMITS.items():
            if not env.get(name):
                env[name] = value
    env["PYTHONUNBUFFERED"] = "1"  # children's lines reach the terminal as they are written
    # Children find this venv's console scripts even when it is not activated.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")


def start_postgres(stack: Stack, stack_exit: contextlib.ExitStack, state_dir: Path = STATE_DIR) -> None:
    """Use DATABASE_URL, or start the embedded Postgres (data kept in .devstack/postgres)."""
    if stack.env.get("DATABASE_URL"):
        stack.services.append(StandIn("postgres", False, stack.env["DATABASE_URL"]))
        return
    pg = EmbeddedPostgres(state_dir / "postgres")
    stack_exit.callback(pg.stop)
    pg.start()
    url = pg.url_for(DEV_DATABASE) if pg.database_exists(DEV_DATABASE) else pg.create_database(DEV_DATABASE)
    stack.env["DATABASE_URL"] = url
    stack.services.append(StandIn("postgres", True, url, f"data kept in {pg.data_dir}"))


def start_redis(stack: Stack, stack_exit: contextlib.ExitStack, state_dir: Path = STATE_DIR) -> None:
    """Use REDIS_URL, or start an embedded Redis on a free port (nothing persisted)."""
    if stack.env.get("REDIS_URL"):
        stack.services.append(StandIn("redis", False, stack.env["REDIS_URL"]))
        return
    redis = EmbeddedRedis(log_path=state_dir / "redis.log")
    stack_exit.callback(redis.stop)
    redis.start()
    stack.env["REDIS_URL"] = redis.url
    stack.services.append(StandIn("redis", True, redis.url, "not persisted"))


def start_telegram(stack: Stack, stack_exit: contextlib.ExitStack, state_dir: Path = STATE_DIR) -> None:
    """Use TELEGRAM_BOT_TOKEN, or start the emulator and point the bot at it."""
    env = stack.env
    if env.get("TELEGRAM_BOT_TOKEN"):
        api = env.get("TELEGRAM_API_URL") or "https://api.telegram.org"
        stack.services.append(StandIn("telegram", False, api, "real bot token from the environment"))
        return
    username = env.get("TELEGRAM_BOT_USERNAME") or BOT_USERNAME
    emulator = EmulatorProcess(port=EMULATOR_PORT, bot_username=username, log_path=state_dir / "emulator.log")
    stack_exit.callback(emulator.stop)
    if port_is_free(EMULATOR_PORT):
        try:
            emulator.start()
        except StartupError:  # 8081 was taken between the check and the bind: any port will do
            emulator.requested_port = None
    else:
        emulator.requested_port = None
    if not emulator.url:
        emulator.start()
    env["TELEGRAM_BOT_TOKEN"] = EMULATOR_BOT_TOKEN
    env["TELEGRAM_API_URL"] = emulator.url
    env["TELEGRAM_BOT_USERNAME"] = username
    stack.services.append(StandIn("telegram", True, emulator.url, f"emulator, bot @{username}"))


def start_mail(stack: Stack, stack_exit: contextlib.ExitStack, state_dir: Path = STATE_DIR) -> None:
    """Use SMTP_URL, or start the mail catcher and send the worker's email there."""
    if stack.env.get("SMTP_URL"):
        stack.services.append(StandIn("mail", False, stack.env["SMTP_URL"], "SMTP server from the environment"))
        return
    smtp_port, inbox_port = preferred_ports()
    catcher = MailCatcherProcess(smtp_port, inbox_port, log_path=state_dir / "mail-catcher.log")
    stack_exit.callback(catcher.stop)
    try:
        catcher.start()
    except StartupError:  # a port was taken between the check and the bind: any ports will do
        catcher.requested = (None, None)
        catcher.start()
    stack.env["SMTP_URL"] = catcher.smtp_url
    stack.services.append(StandIn("mail", True, catcher.url, f"mail catcher, SMTP at {catcher.smtp_url}"))


def start_stack(
    stack_exit: contextlib.ExitStack, root: Path = PROJECT_ROOT, state_dir: Path = STATE_DIR, telegram: bool = True
) -> Stack:
    """Build the children's environment, starting a stand-in for each unset service."""
    stack = Stack(env=load_environment(root))
    state_dir.mkdir(parents=True, exist_ok=True)
    apply_defaults(stack.env, state_dir)
    start_postgres(stack, stack_exit, state_dir)
    start_redis(stack, stack_exit, state_dir)
    if telegram:
        start_telegram(stack, stack_exit, state_dir)
        start_mail(stack, stack_exit, state_dir)
    return stack
