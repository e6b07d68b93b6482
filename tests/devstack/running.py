"""A `python -m devstack run` in a subprocess, for the tests that need the real `make run`."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from devstack import PROJECT_ROOT
from devstack.stack import DEVELOPMENT_LIMITS

# What a developer's shell may set that would change the stack under test: cleared for every run.
STACK_VARIABLES = ("DATABASE_URL", "REDIS_URL", "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "TELEGRAM_BOT_USERNAME",
                   "APP_ENV", "JWT_SECRET_KEY", "ALLOWED_ORIGINS", "PORT", "GUNICORN_CMD_ARGS", "APPROVAL_MODE",
                   *DEVELOPMENT_LIMITS, "DEVSTACK_STATE_DIR")


def clean_env(**overrides: str) -> dict[str, str]:
    """Return this process's environment without the stack's variables, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if k not in STACK_VARIABLES}
    return {**env, "NO_COLOR": "1", **overrides}


class Running:
    """A `devstack run` subprocess whose output goes to a file we can poll."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def output(self) -> str:
        """Return everything printed so far."""
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float) -> None:
        """Wait until `text` is printed; fail with the output if the process ends or time runs out."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not printed (exit {self.proc.poll()}):\n{self.output()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """Kill the whole process group if a test left it running."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
