"""One Redis connection per gevent worker that carries the hot path's commands of all its requests.

Every pending status poll sends one EVALSHA. On a pooled connection each costs the worker, on
top of the round trip itself, its own send() syscall, a pool checkout and release, redis-py's
packing and hooks, and a gevent timer for the read; here requests share sends and reads.

How: a caller packs its command, appends it to the channel's outbox and its `Waiter` to the
channel's queue, and parks. A writer greenlet sends everything gathered since its last send in
one sendall (requests woken in the same event-loop turn share it); a reader greenlet feeds what
arrives to hiredis and hands each reply to the next waiter, in order (Redis answers a
connection's commands in the order they came). No lock: greenlets switch only where they wait.

Failure: a connection closed, refused or silent for `timeout` seconds while commands wait fails
every waiting command at once with ConnectionError or TimeoutError, and the next command opens a
new channel. `call()` tries a failed command once more on the next channel (`retried`, as the
pooled call does), so a Redis restart costs no error and a hung Redis about two timeouts. Error
replies (NOSCRIPT, ...) raise for their caller only; the channel stays in step.

Only under gevent, for plain `redis://` URLs: `for_url()` answers None otherwise, and callers
use a pooled connection (webapp/poll_transport.py). Public APIs only: hiredis's own Reader and
packer, redis-py's URL parser and exception classes.
"""

from __future__ import annotations

import collections
import socket
import time
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

import gevent
import hiredis
import redis
from gevent.hub import Waiter, get_hub
from redis.connection import parse_url
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    NoPermissionError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
)

from webapp import gevent_worker

T = TypeVar("T")

READ_SIZE = 65536
# The reader looks at the clock this often while commands wait, so a silent Redis is noticed
# between `timeout` and `timeout` + one tick after the oldest unanswered command was queued.
TICKS_PER_TIMEOUT = 4
# A command whose connection broke is tried once more, as redis-py's client does with `Retry(..., 1)`.
CONNECTION_RETRIES = 1
# Error replies raised as their own redis-py class (as its parsers do); any other is a ResponseError.
ERROR_CLASSES: dict[str, type[redis.RedisError]] = {
    "NOSCRIPT": NoScriptError,
    "NOAUTH": AuthenticationError,
    "WRONGPASS": AuthenticationError,
    "READONLY": ReadOnlyError,
    "LOADING": BusyLoadingError,
    "OOM": OutOfMemoryError,
    "NOPERM": NoPermissionError,
}
# The generic "ERR ..." replies that redis-py raises as a class of their own.
ERR_CLASSES: dict[str, type[redis.RedisError]] = {
    "max number of clients reached": redis.ConnectionError,
    "invalid password": AuthenticationError,
}


def for_url(url: str, timeout: float) -> Multiplexer | None:
    """Return a multiplexer for `url` when this process runs gevent and the URL is plain TCP; else None."""
    if urlsplit(url).scheme != "redis" or not gevent_worker.is_active():
        return None
    return Multiplexer(url, timeout)


def retried(run: Callable[[], T]) -> T:
    """Return `run()`, run once more if the connection broke, as redis-py's client does with `Retry(..., 1)`."""
    for attempt in range(1 + CONNECTION_RETRIES):
        try:
            return run()
        except (redis.ConnectionError, redis.TimeoutError):
            if attempt == CONNECTION_RETRIES:
                raise
    raise AssertionError("unreachable")


def error_from_reply(reply: str) -> redis.RedisError:
    """Return the exception redis-py raises for an error reply such as "NOSCRIPT No matching script"."""
    code, _, message = reply.partition(" ")
    if code == "ERR":
        return ERR_CLASSES.get(message, ResponseError)(message, status_code=code)
    error_class = ERROR_CLASSES.get(code)
    if error_class is None:
        return ResponseError(reply)
    return error_class(message, status_code=code)


class Multiplexer:
    """Sends the commands of concurrent greenlets down one pipelined connection, opened on first use.

    One per process: a forked child builds its own (webapp/poll_transport.py keeps it per process).
    """

    def __init__(self, url: str, timeout: float) -> None:
        options = parse_url(url)
        self.address = (options.get("host", "localhost"), int(options.get("port", 6379)))
        self.setup_commands = _setup_commands(options)
        self.timeout = timeout
        self._channel: _Channel | None = None

    def call(self, *command: Any) -> Any:
        """Send one command and return its reply; an error reply raises as redis-py would raise it."""
        return retried(lambda: self._open_channel().call(command))

    def stats(self) -> dict[str, int]:
        """Return how many channels were opened and, on the current one, commands and sends so far."""
        channel = self._channel
        return {
            "channels": _Channel.opened,
            "commands": channel.commands if channel else 0,
            "sends": channel.sends if channel else 0,
        }

    def _open_channel(self) -> _Channel:
        channel = self._channel
        if channel is None or channel.failure is not None:
            channel = self._channel = _Channel(self.address, self.setup_commands, self.timeout)
        return channel


class _Channel:
    """One connection: its outbox, the waiters of the commands sent on it, a writer and a reader."""

    opened = 0  # channels opened in this process (for stats and tests)

    def __init__(self, address: tuple[str, int], setup_commands: list[tuple[Any, ...]], timeout: float) -> None:
        _Channel.opened += 1
        self.address = address
        self.setup_commands = setup_commands
        self.timeout = timeout
        self.failure: Exception | None = None
        self.commands = 0
        self.sends = 0
        self._hub = get_hub()
        self._sock: socket.socket | None = None
        self._parser = hiredis.Reader()
        self._outbox: list[bytes] = []
        self._waiters: collections.deque[Waiter] = collections.deque()  # in the order the commands went out
        self._waiting_since = 0.0  # when the oldest unanswered command was queued (or last answered)
        self._writer_idle: Waiter | None = None  # the writer's, while it has nothing to send
        gevent.spawn(self._write_loop)

    def call(self, command: tuple[Any, ...]) -> Any:
        """Queue one command, park until its reply, and return it (or raise what went wrong)."""
        if self.failure is not None:
            raise _fresh(self.failure)
        waiter = Waiter(self._hub)
        if not self._waiters:
            self._waiting_since = time.monotonic()
        self._waiters.append(waiter)
        self._outbox.append(hiredis.pack_command(command))
        self.commands += 1
        if self._writer_idle is not None:
            idle, self._writer_idle = self._writer_idle, None
            self._hub.loop.run_callback(idle.switch, None)
        reply = waiter.get()
        if isinstance(reply, hiredis.ReplyError):  # an error reply (an Exception too): this call's own
            raise error_from_reply(str(reply))
        if isinstance(reply, Exception):  # the channel failed: shared, so raised as a fresh copy
            raise _fresh(reply)
        return reply

    def _write_loop(self) -> None:
        try:
            self._connect()
            gevent.spawn(self._read_loop)
            while self.failure is None:
                if not self._outbox:
                    self._writer_idle = Waiter(self._hub)
                    self._writer_idle.get()  # woken by call() or by _fail()
                    continue
                data = b"".join(self._outbox)
                self._outbox.clear()
                self.sends += 1
                self._sock.sendall(data)  # type: ignore[union-attr]
        except BaseException as exc:  # noqa: BLE001 - every way out fails the waiters; none may hang
            self._fail(exc)

    def _connect(self) -> None:
        """Open the socket and run AUTH/SELECT before any queued command goes out."""
        sock = socket.create_connection(self.address, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a pipelined batch must not wait
        self._sock = sock
        if self.setup_commands:
            sock.sendall(b"".join(hiredis.pack_command(command) for command in self.setup_commands))
            for _ in self.setup_commands:
                reply = self._read_one_reply()
                if isinstance(reply, hiredis.ReplyError):
                    raise redis.ConnectionError(f"Redis refused the connection's setup: {reply}")
        sock.settimeout(self.timeout / TICKS_PER_TIMEOUT)

    def _read_one_reply(self) -> Any:
        while (reply := self._parser.gets()) is False:
            data = self._sock.recv(READ_SIZE)  # type: ignore[union-attr]
            if not data:
                raise redis.ConnectionError("Connection closed by server.")
            self._parser.feed(data)
        return reply

    def _read_loop(self) -> None:
        buffer = bytearray(READ_SIZE)
        parser, waiters, run_callback = self._parser, self._waiters, self._hub.loop.run_callback
        try:
            while self.failure is None:
                try:
                    received = self._sock.recv_into(buffer)  # type: ignore[union-attr]
                except socket.timeout:
                    if waiters and time.monotonic() - self._waiting_since >= self.timeout:
                        raise redis.TimeoutError(f"Redis did not answer within {self.timeout:g} s") from None
                    continue
                if not received:
                    raise redis.ConnectionError("Connection closed by server.")
                parser.feed(buffer, 0, received)
                while (reply := parser.gets()) is not False:
                    # Waiter.switch runs in the hub: hand the reply over there.
                    run_callback(waiters.popleft().switch, reply)
                self._waiting_since = time.monotonic()
        except BaseException as exc:  # noqa: BLE001 - every way out fails the waiters; none may hang
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        """Close the channel and fail every command still waiting on it; later calls go to a new one."""
        if self.failure is None:
            if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
                self.failure = exc
            elif isinstance(exc, socket.timeout):
                self.failure = redis.TimeoutError(f"Redis did not answer within {self.timeout:g} s")
            else:
                self.failure = redis.ConnectionError(f"Redis connection failed: {type(exc).__name__}: {exc}")
        if self._sock is not None:
            self._sock.close()  # the other loop, blocked on it, wakes with an error and ends here too
        self._outbox.clear()
        run_callback = self._hub.loop.run_callback
        while self._waiters:
            run_callback(self._waiters.popleft().switch, self.failure)
        if self._writer_idle is not None:
            idle, self._writer_idle = self._writer_idle, None
            run_callback(idle.switch, None)


def _fresh(failure: Exception) -> Exception:
    # One exception instance raised in many greenlets would collect all their tracebacks.
    return type(failure)(*failure.args)


def _setup_commands(options: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Return the commands a new connection runs first: AUTH when the URL has a password, SELECT db."""
    commands: list[tuple[Any, ...]] = []
    if options.get("password") is not None:
        username = options.get("username")
        commands.append(("AUTH", username, options["password"]) if username else ("AUTH", options["password"]))
    if int(options.get("db", 0) or 0):
        commands.append(("SELECT", int(options["db"])))
    return commands
