"""The steady-rate stages: logins at Telegram's rate (and above it), what each login costs, where it goes.

Logins arrive on a schedule (`bench.open_loop`) while a `bench.costs.Meter` reads every process's
CPU and every service's counters before and after; the figures are per login.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg2
import redis

from bench import costs, open_loop
from bench.stats import Figure, format_value, percentile
from telegram_emulator.client import EmulatorClient
from tests.e2e.people import TelegramPerson

GOAL_CPU_MS = 12.0  # web + worker + bot CPU per login
GOAL_P99_SECONDS = 1.0  # init -> tokens at the steady rate
APP_PROCESSES = ("web", "worker", "bot")
SERVICES = ("postgres", "redis", "emulator", "load generator")
# pg_stat_database is flushed by each backend at most once a second (PGSTAT_MIN_INTERVAL).
STATS_SETTLE_SECONDS = 1.5


@dataclass
class Services:
    """Where the bench reads the counters: our database, Redis and the emulator."""

    database_url: str
    redis_url: str
    emulator: EmulatorClient

    def meter(self, pids: dict[str, int], logs: dict) -> costs.Meter:
        """Return a meter over the app's processes (`pids`) and these services."""
        database = psycopg2.connect(self.database_url)
        database.autocommit = True
        client = redis.Redis.from_url(self.redis_url)
        with database.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            postmaster = psutil.Process(cursor.fetchone()[0]).parent()
        pids = {**pids, "postgres": postmaster.pid, "redis": int(client.info("server")["process_id"])}

        def transactions() -> int:
            with database.cursor() as cursor:
                cursor.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
                return int(cursor.fetchone()[0])

        return costs.Meter(pids=pids, logs=logs, bot_api_methods=lambda: [c["method"] for c in self.emulator.calls()],
                           sql_transactions=transactions,
                           redis_commands=lambda: costs.redis_commands(client.info("commandstats")),
                           redis_by_command=lambda: costs.redis_commands_by_name(client.info("commandstats")))

    def too_many_requests(self) -> int:
        """Return how many Bot API calls the emulator answered with 429 so far."""
        return sum(1 for call in self.emulator.calls() if call.get("error_code") == 429)


@dataclass(frozen=True)
class SteadyResult:
    """One open-loop stage: its logins, what they cost, and the 429s Telegram would have answered."""

    rate: float
    run: open_loop.OpenLoopRun
    cost: costs.Cost
    too_many_requests: int


def run_stage(meter: costs.Meter, services: Services, web_url: str, people: list[TelegramPerson],
              rate: float, seconds: float) -> SteadyResult:
    """Play `rate` logins a second for `seconds` and measure everything around it."""
    refused_before = services.too_many_requests()
    time.sleep(STATS_SETTLE_SECONDS)
    before, started = meter.read(), time.monotonic()
    run = asyncio.run(open_loop.run(web_url, services.emulator.base_url, people, rate, seconds))
    elapsed = time.monotonic() - started
    time.sleep(STATS_SETTLE_SECONDS)
    after = meter.read()
    cost = costs.Cost(after.minus(before), len(run.completed), elapsed)
    return SteadyResult(rate, run, cost, services.too_many_requests() - refused_before)


def describe_costs(result: SteadyResult) -> list[str]:
    """Return run notes: counts per login and each process's CPU per login and share of a core."""
    cost = result.cost
    counts = ", ".join(f"{name.replace('_', ' ')} {cost.per_login(name):.2f}" for name in costs.COUNTS)
    cpu = ", ".join(f"{name} {cost.cpu_ms_per_login(name):.1f} ms ({cost.cpu_share(name):.0%} of a core)"
                    for name in (*APP_PROCESSES, *SERVICES))
    redis = ", ".join(f"{name} {calls:.2f}" for name, calls in cost.redis_per_login())
    return [f"{result.rate:g} logins/s: per login {counts}", f"  CPU per login: {cpu}",
            f"  Redis commands per login, most first: {redis}"]


def seconds_figure(name: str, values: list[float], fraction: float, **goal) -> Figure:
    """Return a percentile of seconds as milliseconds (NaN when nothing was measured)."""
    value = percentile(values, fraction) * 1000 if values else math.nan
    return Figure(name, value, "ms", **goal)


def steady_figures(result: SteadyResult, seconds: float, reference_ms: float) -> list[Figure]:
    """Return the figures of the stage at Telegram's rate: completion, p99, errors, CPU per login.

    `reference_ms` is this machine's `bench.machine_speed` reference: CPU per login divided by it
    compares runs made on different machines.
    """
    run, cost = result.run, result.cost
    to_tokens = [x.to_tokens for x in run.completed]
    to_prompt = [x.to_prompt for x in run.logins if not math.isnan(x.to_prompt)]
    incomplete = len(run.logins) - len(run.completed)
    app_ms = cost.cpu_ms_per_login(*APP_PROCESSES)
    services_ms = cost.cpu_ms_per_login("postgres", "redis")
    return [
        Figure(f"logins at {result.rate:g}/s for {seconds:g} s, completed", len(run.completed),
               at_least=len(run.logins), goal_text=f"all {len(run.logins)}",
               note=f"open loop; {incomplete} errors, {result.too_many_requests} Bot API 429s; "
                    f"generator lag max {run.max_start_lag * 1000:.0f} ms"),
        # Where a slow login lost its time: before its prompt (web, queue, worker, budget) or after;
        # a backlog shows as the last tenth of the logins waiting longer for theirs than the first.
        seconds_figure(f"init -> prompt p50 at {result.rate:g}/s", to_prompt, 0.50),
        seconds_figure(f"init -> prompt p99 at {result.rate:g}/s", to_prompt, 0.99, note=backlog_note(run)),
        seconds_figure(f"init -> tokens p50 at {result.rate:g}/s", to_tokens, 0.50),
        seconds_figure(f"init -> tokens p99 at {result.rate:g}/s", to_tokens, 0.99,
                       at_most=GOAL_P99_SECONDS * 1000, goal_text=f"<= {GOAL_P99_SECONDS * 1000:.0f} ms"),
        Figure("CPU per login, web + worker + bot", app_ms, "ms", at_most=GOAL_CPU_MS,
               goal_text=f"<= {GOAL_CPU_MS:g} ms",
               note=", ".join(f"{n} {format_value(cost.cpu_ms_per_login(n))}" for n in APP_PROCESSES)),
        Figure("CPU per login / machine reference", app_ms / reference_ms,
               note=f"the same CPU in units of this machine's Python reference ({reference_ms:.1f} ms)"),
        Figure("CPU per login, Postgres + Redis", services_ms, "ms",
               note=f"postgres {format_value(cost.cpu_ms_per_login('postgres'))}, "
                    f"redis {format_value(cost.cpu_ms_per_login('redis'))}; emulator "
                    f"{format_value(cost.cpu_ms_per_login('emulator'))}, load generator "
                    f"{format_value(cost.cpu_ms_per_login('load generator'))}"),
        Figure("Telegram messages per Telegram-approved login", cost.per_login("telegram_messages"),
               at_most=1.0, goal_text="1", note="new messages (sendMessage); edits and callback answers aside"),
    ]


def backlog_note(run: open_loop.OpenLoopRun) -> str:
    """Return the median init -> prompt of the first and of the last tenth of the logins, in order of due time."""
    tenth = max(1, len(run.logins) // 10)
    first, last = ([x.to_prompt for x in part if not math.isnan(x.to_prompt)]
                   for part in (run.logins[:tenth], run.logins[-tenth:]))
    if not first or not last:
        return ""
    return f"p50 of the first / last tenth: {percentile(first, 0.5) * 1000:,.0f} / {percentile(last, 0.5) * 1000:,.0f} ms"


def overload_figures(result: SteadyResult, budget: str) -> list[Figure]:
    """Return the figures of the stage above the send budget: every prompt delivered, and its delay."""
    run = result.run
    to_prompt = [x.to_prompt for x in run.logins if not math.isnan(x.to_prompt)]
    return [
        Figure(f"over the budget ({result.rate:g}/s): prompts delivered", len(to_prompt), at_least=len(run.logins),
               goal_text=f"all {len(run.logins)}",
               note=f"budget {budget}; {len(run.errors)} errors, {result.too_many_requests} Bot API 429s"),
        seconds_figure(f"init -> prompt p50 at {result.rate:g}/s", to_prompt, 0.50),
        seconds_figure(f"init -> prompt max at {result.rate:g}/s", to_prompt, 1.0,
                       note="the delay the budget cost the last in the queue"),
    ]


def start_profile(path: Path, seconds: float) -> subprocess.Popen:
    """Start py-spy on this process and every process under it (the whole system) for `seconds`."""
    py_spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or shutil.which("py-spy")
    if py_spy is None:
        raise RuntimeError("--profile needs py-spy (requirements-dev.txt)")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Sampling without pausing the processes (--nonblocking): their CPU per login stays comparable.
    # Only threads holding the GIL (--gil): a thread waiting in a syscall (epoll, a socket read, a
    # thread pool's queue) is not spending CPU, and without --gil py-spy counts many such waits.
    argv = [py_spy, "record", "--subprocesses", "--nonblocking", "--gil", "--rate", "100", "--duration",
            str(max(1, round(seconds))), "--format", "raw", "--output", str(path), "--pid", str(os.getpid())]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish_profile(profiler: subprocess.Popen, path: Path) -> str:
    """Wait for py-spy; return a run note saying where its stacks are."""
    output, _ = profiler.communicate(timeout=60)
    if profiler.returncode != 0:
        return f"py-spy failed ({profiler.returncode}): {output.strip()[-200:]}"
    return f"profile of the steady stage (py-spy, collapsed stacks, one root per process): {path}"
