"""A private copy of the whole product whose servers and processes the fault tests may break.

Its own embedded Postgres and Redis, its own Telegram emulator, and the Procfile processes
started by tests/e2e/system.py's helpers: stopping any of them disturbs no other test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis

from devstack.processes import ProcessGroup
from jobs import app
from tasks.recovery import RUNNING_KEY
from devstack.services import EmbeddedPostgres, EmbeddedRedis
from tests.e2e.people import Browser, TelegramPerson, prompt_buttons
from tests.e2e.system import STARTUP_TIMEOUT, System, wait_until

# Generous limits: these tests start many logins from one IP and poll quickly on purpose;
# the limits themselves are tested elsewhere.
FAULT_ENV = {
    "APPROVAL_MODE": "simple",
    "POLL_INTERVAL": "1",
    "RATE_LIMIT_INIT_PER_IP": "10000/minute",
    "RATE_LIMIT_INIT_PER_PHONE": "10000/minute",
    "PROMPT_BUDGET_PER_PHONE": "10000/minute",
    "RATE_LIMIT_POLL_BURST": "100000",
    "RATE_LIMIT_REFRESH_PER_IP": "10000/minute",
    "DB_POOL_WAIT": "2",
}


@dataclass
class FaultSystem:
    """The running private system, with the switches the fault tests turn."""

    system: System
    postgres: EmbeddedPostgres
    redis: EmbeddedRedis
    database_url: str
    session_ids: list[str] = field(default_factory=list)  # every login started, for the invariants

    @property
    def processes(self) -> ProcessGroup:
        """Return the group running release, web, worker and bot."""
        return self.system.processes

    @property
    def env(self) -> dict[str, str]:
        """Return the environment the processes were started with."""
        return self.system.env

    def browser(self, http: httpx.Client | None = None) -> "RecordingBrowser":
        """Return a browser on the main web server that remembers the logins it starts."""
        return RecordingBrowser(http or self.system.http(), self.session_ids)

    # Redis -------------------------------------------------------------------------------

    def stop_redis(self) -> None:
        """Stop the Redis server (the broker, limits and locks go with it)."""
        self.redis.stop()

    def start_redis(self) -> None:
        """Start Redis again on the same port (empty: nothing was persisted)."""
        if self.redis._proc is None:
            self.redis.start()

    # Postgres ----------------------------------------------------------------------------

    def stop_postgres(self) -> None:
        """Stop the Postgres server (fast shutdown: open connections are cut)."""
        self.postgres.stop()

    def start_postgres(self) -> None:
        """Start Postgres again on the same data directory and socket."""
        if self.postgres._server is None:
            self.postgres.start()

    # Processes ---------------------------------------------------------------------------

    def running(self, name: str) -> bool:
        """Tell whether process `name` of the Procfile is running."""
        child = self.processes.children.get(name)
        return child is not None and child.proc.poll() is None

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send `sig` to the whole process group of `name` (a worker's pool children too) and reap it."""
        child = self.processes.children[name]
        child.expected_exit = True
        try:
            os.killpg(child.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            child.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(child.proc.pid, signal.SIGKILL)
            child.proc.wait(5)
        if sig != signal.SIGKILL:
            # Whatever the leader left behind (pool children that ignored the signal) goes too.
            try:
                os.killpg(child.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def start_worker(self) -> None:
        """Start the worker from the Procfile and wait until Celery says it is ready."""
        self.system.start_worker()

    def start_bot(self) -> None:
        """Start the bot from the Procfile and wait until it long-polls the emulator again."""
        self.system.start_bot()

    def restore(self) -> None:
        """Bring back whatever a test left stopped, and wait until the web answers ready."""
        self.start_postgres()
        self.start_redis()
        if not self.running("worker"):
            self.start_worker()
        if not self.running("bot"):
            self.start_bot()
        self.system.emulator.clear_faults()
        wait_until(
            lambda: httpx.get(f"{self.system.web_url}/readyz", timeout=5).status_code == 200,
            STARTUP_TIMEOUT,
            "web ready again",
            self.system.log_dir / "web.log",
            self.processes,
            "web",
        )
        wait_until(self.worker_settled, STARTUP_TIMEOUT, "worker consuming again", self.system.log_dir / "worker.log",
                   self.processes, "worker")

    def worker_settled(self) -> bool:
        """Tell whether the worker is connected to the broker and has taken every queued task.

        A worker reconnects to a restarted Redis on its own backoff, seconds later, and then sweeps
        for pending logins (tasks/recovery.py): a test starting before that would see the sweep's
        duplicate sends of its own login.
        """
        client = redis.Redis.from_url(self.redis.url, socket_timeout=2)
        try:
            running = client.exists(RUNNING_KEY.format(hostname=f"celery@{socket.gethostname()}"))
            return bool(running) and client.llen(app.conf.task_default_queue) == 0
        finally:
            client.close()

    def log_size(self, name: str) -> int:
        """Return the current size of a process's log (an offset for `log_since`)."""
        return self.system.log_size(name)

    def log_since(self, name: str, offset: int) -> str:
        """Return what a process logged after `offset`."""
        return self.system.log_since(name, offset)

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Run one query on the system's database and return its rows as dicts."""
        import psycopg2
        import psycopg2.extras

        conn = psycopg2.connect(self.database_url, connect_timeout=5, cursor_factory=psycopg2.extras.RealDictCursor)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(query, params)
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()


class RecordingBrowser(Browser):
    """A browser that writes down the session id of every login it starts."""

    def __init__(self, http: httpx.Client, record: list[str]) -> None:
        super().__init__(http)
        self.record = record

    def init(self, phone: str) -> dict[str, Any]:
        """Start a login (asserting 201) and remember its session id."""
        body = super().init(phone)
        self.record.append(body["session_id"])
        return body


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """Call `fn` and return (its result, the seconds it took)."""
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - started


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `predicate` until truthy and return it; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s (last value {last!r})")


def last_message_id(person: TelegramPerson) -> int:
    """Return the id of the newest message in a person's chat (0 when empty)."""
    return max((m["message_id"] for m in person.emulator.chat(person.id)["messages"]), default=0)


def wait_for_prompt_after(person: TelegramPerson, message_id: int, timeout: float = 20) -> dict[str, Any]:
    """Wait for a prompt (a message with buttons) newer than `message_id` and return it."""
    return person.emulator.wait_for_bot_message(
        person.id, lambda m: m["message_id"] > message_id and prompt_buttons(m), timeout=timeout
    )


def wait_for_closed_prompt(person: TelegramPerson, message_id: int, timeout: float = 20) -> dict[str, Any]:
    """Wait until a prompt was edited to its outcome (its decision buttons gone) and return it."""

    def closed() -> dict[str, Any] | None:
        message = person.message(message_id)
        return message if message["edited"] and not prompt_buttons(message) else None

    return person.emulator.wait_for(closed, timeout=timeout, description=f"prompt {message_id} closed")


def held_send_calls(faults: FaultSystem, chat_id: int) -> list[dict[str, Any]]:
    """Return the sendMessage calls to a chat that the emulator held (its "timeout" fault)."""
    calls = faults.system.emulator.calls("sendMessage")
    return [c for c in calls if c.get("fault") == "timeout" and int(c["params"]["chat_id"]) == chat_id]
