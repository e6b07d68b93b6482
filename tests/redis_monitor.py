"""Watch what clients send Redis while a block runs (MONITOR): for tests that count round trips."""

from __future__ import annotations

import contextlib
import threading
import uuid
from typing import Any, Callable, Iterator

import redis

Command = dict[str, Any]  # redis-py's form: command, db, client_type, client_address, client_port...


@contextlib.contextmanager
def commands_sent(redis_url: str, keep: Callable[[Command], bool] = lambda command: True) -> Iterator[list[Command]]:
    """Collect the commands sent to this URL's database that `keep` accepts, while the block runs.

    MONITOR lists every database's commands (other tests share the server): only the URL's own
    are kept. The watch ends on an ECHO of a marker of its own, sent after the block, so every
    command sent within the block is in the list when it is read.
    """
    seen: list[Command] = []
    monitor_client = redis.Redis.from_url(redis_url)
    database = monitor_client.connection_pool.connection_kwargs.get("db", 0)
    marker = f"monitor-end:{uuid.uuid4().hex}"
    ready = threading.Event()

    def watch() -> None:
        with monitor_client.monitor() as monitor:
            ready.set()
            while (command := monitor.next_command())["command"] != f"ECHO {marker}":
                if command["db"] == database and keep(command):
                    seen.append(command)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield seen
    finally:
        monitor_client.echo(marker)
        thread.join(5)
        monitor_client.close()


def words(command: Command) -> list[str]:
    """Return a monitored command as its words: name first, then its arguments."""
    return command["command"].split()
