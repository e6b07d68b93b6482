"""The whole product as real processes for end-to-end tests: emulator, gunicorn, worker, bot.

Nothing of ours is patched: the processes are started from the Procfile exactly as in
production, and Telegram is faked only at its HTTP boundary (the emulator).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx

from devstack.mail_service import MailCatcherProcess
from devstack.processes import ProcessGroup
from devstack.procfile import read_procfile, resolve_command
from devstack.services import EmulatorProcess, free_port, tail
from mail_catcher.client import MailCatcherClient
from telegram_emulator.client import EmulatorClient

BOT_TOKEN = "123456789:e2e-test-emulator-token-0000000000000"
BOT_USERNAME = "dance_of_mind_test_bot"
JWT_KEY = "e2e-test-jwt-key-" + "x" * 40
# BOT_DEFAULT_LANGUAGE of the system under test (the contract's default) and the Telegram language of
# its people (tests.e2e.people): the language the bot speaks to them.
BOT_LANGUAGE = "ru"
STARTUP_TIMEOUT = 60.0
# The suite starts many logins from 127.0.0.1 and polls every 0.1 s: limits far above that, so
# they never make a test flaky. test_limits.py starts a web server with the defaults.
GENEROUS_LIMITS = {
    "RATE_LIMIT_INIT_PER_IP": "100000/minute",
    "RATE_LIMIT_INIT_PER_PHONE": "100000/minute",
    "PROMPT_BUDGET_PER_PHONE": "100000/minute",
    "RATE_LIMIT_REFRESH_PER_FAMILY": "100000/minute",
    "RATE_LIMIT_REFRESH_PER_IP": "100000/minute",
    "RATE_LIMIT_POLL_BURST": "100000",
    "RATE_LIMIT_EMAIL_PER_IP": "100000/minute",
}


class StartupFailed(RuntimeError):
    """A process of the system did not become ready."""


@dataclass
class System:
    """Handles on the running system: its web URL, the emulator, and the process logs."""

    env: dict[str, str]
    emulator: EmulatorClient
    log_dir: Path
    processes: ProcessGroup
    web_url: str = ""
    extra_webs: list[str] = field(default_factory=list)
    # The mail catcher the worker sends to (SMTP_URL), read through its JSON API.
    mail: MailCatcherClient | None = None

    def http(self, base_url: str | None = None) -> httpx.Client:
        """Return an HTTP client for the web app (the main one unless told otherwise)."""
        return httpx.Client(base_url=base_url or self.web_url, timeout=15)

    def start_web(self, name: str, **overrides: str) -> str:
        """Start another gunicorn (e.g. with a short AUTH_SESSION_TTL) and return its URL."""
        port = free_port()
        env = {**self.env, **overrides, "PORT": str(port)}
        self.processes.start(name, procfile_argv("web", env), env=env)
        url = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{url}/readyz", self.log_dir / f"{name}.log", self.processes, name)
        return url

    def launch_worker(self) -> Callable[[], None]:
        """Start the Procfile's worker; return a function that waits until Celery says it is ready.

        Launched first and waited for later, the processes of the system come up side by side.
        """
        offset = self.log_size("worker")
        self.processes.start("worker", procfile_argv("worker", self.env), env=self.env)

        def wait_ready() -> None:
            wait_until(
                lambda: " ready." in self.log_since("worker", offset),
                STARTUP_TIMEOUT,
                "celery worker",
                self.log_dir / "worker.log",
                self.processes,
                "worker",
            )

        return wait_ready

    def launch_bot(self) -> Callable[[], None]:
        """Start the Procfile's bot; return a function that waits until it long-polls the emulator."""
        before = len(self.emulator.calls("getUpdates"))
        self.processes.start("bot", procfile_argv("bot", self.env), env=self.env)

        def wait_polling() -> None:
            wait_until(
                lambda: len(self.emulator.calls("getUpdates")) > before,
                STARTUP_TIMEOUT,
                "bot polling",
                self.log_dir / "bot.log",
                self.processes,
                "bot",
            )

        return wait_polling

    def start_worker(self) -> None:
        """Start the Procfile's worker and wait until it is ready."""
        self.launch_worker()()

    def start_bot(self) -> None:
        """Start the Procfile's bot and wait until it long-polls the emulator."""
        self.launch_bot()()

    def log_size(self, name: str) -> int:
        """Return the current size of a process's log (an offset for `log_since`)."""
        log = self.log_dir / f"{name}.log"
        return log.stat().st_size if log.exists() else 0

    def log_since(self, name: str, offset: int) -> str:
        """Return what a process logged after `offset`."""
        with open(self.log_dir / f"{name}.log", "rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", errors="replace")

    def logs(self) -> str:
        """Return the last lines of every process log (shown when a test fails)."""
        return "\n".join(f"--- {p.name} ---\n{tail(p, 40)}" for p in sorted(self.log_dir.glob("*.log")))


def procfile_argv(entry: str, env: dict[str, str]) -> list[str]:
    """Return the argv of a Procfile entry, resolved to this venv."""
    return resolve_command(read_procfile()[entry], env)


def wait_until(check, timeout: float, what: str, log: Path | None, processes: ProcessGroup, name: str) -> Any:
    """Poll `check` until truthy; fail early with the log if the process died."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        child = processes.children.get(name)
        if child is not None and child.proc.poll() is not None:
            raise StartupFailed(f"{name} exited with {child.proc.returncode}\n{tail(log, 60)}")
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # not up yet
            last_error = exc
        time.sleep(0.1)
    raise StartupFailed(f"{what} not ready in {timeout} s (last error: {last_error})\n{tail(log, 60)}")


def wait_http_ok(url: str, log: Path, processes: ProcessGroup, name: str) -> None:
    """Wait until `url` answers 200."""
    wait_until(lambda: httpx.get(url, timeout=2).status_code == 200, STARTUP_TIMEOUT, url, log, processes, name)


def start_system(
    database_url: str, redis_url: str, emulator_url: str, log_dir: Path, processes: ProcessGroup, base_env: dict[str, str]
) -> System:
    """Migrate, then start web, worker and bot against the given services; wait until all are ready."""
    port = free_port()
    env = {
        **base_env,
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_URL": emulator_url,
        "TELEGRAM_BOT_USERNAME": BOT_USERNAME,
        "JWT_SECRET_KEY": JWT_KEY,
        "ALLOWED_ORIGINS": "http://frontend.test",
        "PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "EMAIL_FROM": "Dance of Mind <no-reply@dance-of-mind.test>",
        "WEB_CONCURRENCY": "2",
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "INFO",
        **GENEROUS_LIMITS,
        "BOT_DEFAULT_LANGUAGE": BOT_LANGUAGE,
        # The main web server keeps one-tap Approve/Reject, which most tests play; match mode
        # (the default) gets a web server of its own: system.start_web(name, APPROVAL_MODE="match").
        "APPROVAL_MODE": "simple",
    }
    emulator = EmulatorClient(emulator_url)
    system = System(env=env, emulator=emulator, log_dir=log_dir, processes=processes,
                    mail=MailCatcherClient(base_env["MAIL_CATCHER_URL"]) if "MAIL_CATCHER_URL" in base_env else None)
    if processes.run("release", procfile_argv("release", env), timeout=60, env=env) != 0:
        raise StartupFailed(f"release failed\n{tail(log_dir / 'release.log', 60)}")
    worker_ready = system.launch_worker()
    bot_polling = system.launch_bot()
    processes.start("web", procfile_argv("web", env), env=env)
    system.web_url = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{system.web_url}/readyz", log_dir / "web.log", processes, "web")
    bot_polling()
    worker_ready()
    return system


@contextmanager
def running_system(database_url: str, redis_url: str, log_dir: Path, base_env: dict[str, str]) -> Iterator[System]:
    """Start an emulator and a mail catcher, then the system on them (`start_system`); stop every process on exit."""
    processes = ProcessGroup(log_dir=log_dir)
    with (
        EmulatorProcess(bot_username=BOT_USERNAME, log_path=log_dir / "emulator.log") as emulator,
        MailCatcherProcess(log_path=log_dir / "mail-catcher.log") as catcher,
    ):
        mail_env = {"SMTP_URL": catcher.smtp_url, "MAIL_CATCHER_URL": catcher.url}
        try:
            yield start_system(database_url, redis_url, emulator.url, log_dir, processes, {**base_env, **mail_env})
        finally:
            processes.stop()
