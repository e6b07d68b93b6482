"""`python -m devstack doctor` (`make doctor`): the project's doctor, pointed at the `make run` stack.

The stand-ins of `make run` (Postgres, Redis, the Telegram emulator) and the settings it fills
in exist only in the environment of its children. While the stack is up, `make run` keeps them
in `.devstack/env`; the doctor reads that file under the environment and `.env`, which win.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping

from devstack import PROJECT_ROOT, STATE_DIR
from devstack.stack import DEVELOPMENT_LIMITS

STACK_FILE = "env"
STACK_PID = "DEVSTACK_PID"
# What the doctor's checks read: the services, the settings `make run` fills in, and its limits.
STACK_VARIABLES = (
    "APP_ENV", "DATABASE_URL", "MIGRATION_DATABASE_URL", "REDIS_URL", "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL",
    "TELEGRAM_BOT_USERNAME", "JWT_SECRET_KEY", "ALLOWED_ORIGINS", "APPROVAL_MODE", "BOT_MODE", "WEBHOOK_URL",
    "WEBHOOK_SECRET", "PORT", *DEVELOPMENT_LIMITS,
)
# Without any of these, neither a stack nor the configuration says where the services are.
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "TELEGRAM_BOT_TOKEN")
NOTHING_FOUND = (
    "doctor: no running `make run` stack found and nothing configured "
    "(DATABASE_URL, REDIS_URL, TELEGRAM_BOT_TOKEN are unset in the environment and .env).\n"
    "Start the stack with `make run` in another terminal, or configure the services in .env (see .env.example)."
)


def stack_file(state_dir: Path = STATE_DIR) -> Path:
    """Return the path of the file that describes the running stack."""
    return state_dir / STACK_FILE


def _quote(value: str) -> str:
    # python-dotenv reads single-quoted values literally, except for \\ and \'.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def write_stack_file(env: Mapping[str, str], state_dir: Path = STATE_DIR, pid: int | None = None) -> Path:
    """Write the stack's settings to `.devstack/env` (mode 600: it holds the JWT key and URLs)."""
    path = stack_file(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# Written by `make run` while its stack is up, removed when it stops; read by `make doctor`."]
    lines.append(f"{STACK_PID}={pid or os.getpid()}")
    lines += [f"{name}={_quote(env[name])}" for name in STACK_VARIABLES if env.get(name)]
    path.unlink(missing_ok=True)  # a file left by a killed stack may have other permissions
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def remove_stack_file(state_dir: Path = STATE_DIR) -> None:
    """Remove `.devstack/env` (the stack is stopping)."""
    stack_file(state_dir).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def running_stack(state_dir: Path = STATE_DIR) -> dict[str, str] | None:
    """Return the settings of the running `make run` stack, or None (no file, or its process is gone)."""
    from dotenv import dotenv_values

    path = stack_file(state_dir)
    if not path.exists():
        return None
    values = {k: v for k, v in dotenv_values(path).items() if v is not None}
    pid = values.pop(STACK_PID, "")
    if not pid.isdigit() or not _alive(int(pid)):
        return None  # left behind by a stack that was killed: it describes nothing that runs
    return values


def doctor_environment(root: Path = PROJECT_ROOT, state_dir: Path = STATE_DIR) -> tuple[dict[str, str], bool] | None:
    """Return the doctor's environment and whether it includes a running stack; None when nothing is known.

    The environment and `.env` win over the stack's file, as they do for `make run` itself.
    """
    from devstack.stack import load_environment

    configured = load_environment(root)
    stack = running_stack(state_dir)
    if stack is None:
        if not any(configured.get(name) for name in SERVICE_VARIABLES):
            return None
        return configured, False
    return {**stack, **configured}, True


def main(root: Path = PROJECT_ROOT, state_dir: Path = STATE_DIR) -> int:
    """Run `flask --app wsgi doctor` with this venv's Python against the stack; return 0, or 1 on problems."""
    found = doctor_environment(root, state_dir)
    if found is None:
        print(NOTHING_FOUND, file=sys.stderr, flush=True)
        return 1
    env, with_stack = found
    if with_stack:
        where = f"the running `make run` stack ({stack_file(state_dir)}); the environment and .env win"
    else:
        where = "what the environment and .env configure (no running `make run` stack found)"
    print(f"doctor: checking {where}", flush=True)
    # `python -m flask`: a `flask` on PATH may belong to another Python that lacks the project.
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "doctor"]
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=False)
    return 0 if result.returncode == 0 else 1
