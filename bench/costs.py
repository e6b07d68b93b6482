"""What a stretch of logins cost: CPU per process tree, and the work counted at each service.

A `Meter` takes a `Reading` before and after a stage; their difference divided by the logins
done is the cost per login: CPU seconds of each process tree (web = the gunicorn master and its
workers, worker = Celery and its prefork children, bot, Postgres, Redis, the emulator, and this
load generator), HTTP requests our web app answered (its access log), Celery tasks the worker
received (its log), Bot API calls the emulator recorded (and the new messages among them), SQL transactions (pg_stat_database's
xact_commit + xact_rollback) and Redis commands (INFO commandstats).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import psutil

# Per-login counts printed by the bench, in this order.
COUNTS = ("http_requests", "celery_tasks", "bot_api_calls", "telegram_messages", "sql_transactions", "redis_commands")
# Bot API methods that put a new message in a chat (edits and callback answers don't).
NEW_MESSAGE_METHODS = frozenset({"sendMessage", "forwardMessage", "copyMessage", "sendPhoto", "sendDocument"})
ACCESS_LINE = re.compile(rb'"(?:GET|POST|DELETE|PUT|PATCH|OPTIONS|HEAD) /')
TASK_RECEIVED = re.compile(rb"Task \S+\[[0-9a-f-]+\] received")


def tree_cpu_seconds(pid: int) -> float:
    """Return the user + system CPU seconds of a process and all its descendants, reaped ones included.

    A reaped child's time is in its parent's children_user/children_system; a live one's is not,
    so adding both for every live process of the tree counts each process once.
    """
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for member in members:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def tree_rss_bytes(pid: int) -> int:
    """Return the resident memory of a process and its live descendants."""
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue  # it exited between the listing and the read
    return total


def count_in_log(path: Path, pattern: re.Pattern[bytes]) -> int:
    """Return how many lines of a log match `pattern` (0 for a missing log)."""
    try:
        return len(pattern.findall(path.read_bytes()))
    except OSError:
        return 0


def redis_commands(info_commandstats: Mapping[str, Mapping[str, int]]) -> int:
    """Return the commands Redis ran in all, from INFO commandstats (redis-py's parsed form)."""
    return sum(int(stats.get("calls", 0)) for stats in info_commandstats.values())


REDIS_COMMAND_PREFIX = "redis:"


def redis_commands_by_name(info_commandstats: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Return the calls of each Redis command, as counts named "redis:<command>" (e.g. "redis:evalsha")."""
    return {REDIS_COMMAND_PREFIX + name.removeprefix("cmdstat_"): int(stats.get("calls", 0))
            for name, stats in info_commandstats.items()}


@dataclass(frozen=True)
class Reading:
    """Cumulative counters at one moment."""

    cpu_seconds: dict[str, float]
    counts: dict[str, int]

    def minus(self, earlier: Reading) -> Reading:
        """Return what happened since `earlier`."""
        return Reading({k: v - earlier.cpu_seconds.get(k, 0.0) for k, v in self.cpu_seconds.items()},
                       {k: v - earlier.counts.get(k, 0) for k, v in self.counts.items()})


@dataclass(frozen=True)
class Cost:
    """A stage's cost: CPU and counts over `logins` logins in `seconds`."""

    delta: Reading
    logins: int
    seconds: float

    def cpu_ms_per_login(self, *names: str) -> float:
        """Return the CPU milliseconds per login of the named process trees together."""
        spent = sum(self.delta.cpu_seconds.get(name, 0.0) for name in names)
        return spent * 1000 / self.logins if self.logins else float("nan")

    def per_login(self, count: str) -> float:
        """Return a count per login."""
        return self.delta.counts.get(count, 0) / self.logins if self.logins else float("nan")

    def redis_per_login(self, top: int = 12) -> list[tuple[str, float]]:
        """Return the most frequent Redis commands and their calls per login, most first."""
        named = [(k.removeprefix(REDIS_COMMAND_PREFIX), self.per_login(k)) for k in self.delta.counts
                 if k.startswith(REDIS_COMMAND_PREFIX) and self.delta.counts[k] > 0]
        return sorted(named, key=lambda item: -item[1])[:top]

    def cpu_share(self, name: str) -> float:
        """Return the share of one core a process tree used during the stage."""
        return self.delta.cpu_seconds.get(name, 0.0) / self.seconds if self.seconds else float("nan")


@dataclass
class Meter:
    """Reads every counter the bench keeps; the sources are functions so the meter stays testable."""

    pids: dict[str, int]
    logs: dict[str, Path]
    bot_api_methods: Callable[[], list[str]]
    sql_transactions: Callable[[], int]
    redis_commands: Callable[[], int]
    redis_by_command: Callable[[], dict[str, int]] = dict
    extra: dict[str, Callable[[], float]] = field(default_factory=dict)

    def read(self) -> Reading:
        """Return every counter now."""
        cpu = {name: tree_cpu_seconds(pid) for name, pid in self.pids.items()}
        cpu["load generator"] = sum(os.times()[:2])  # this process: the bench itself
        methods = self.bot_api_methods()
        counts = {
            "http_requests": count_in_log(self.logs["web"], ACCESS_LINE),
            "celery_tasks": count_in_log(self.logs["worker"], TASK_RECEIVED),
            "bot_api_calls": len(methods),
            "telegram_messages": sum(1 for m in methods if m in NEW_MESSAGE_METHODS),
            "sql_transactions": self.sql_transactions(),
            "redis_commands": self.redis_commands(),
            **self.redis_by_command(),
        }
        return Reading(cpu, counts)
