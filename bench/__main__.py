"""`make bench`: start the whole system on embedded services, measure, print the table.

Usage: python -m bench [--quick] [--save]

Stages, in this order (the heaviest last, so it can't disturb the others):
1. pending sessions for unlinked phones (their polls stay `pending`);
2. throughput of status polls over those sessions and of /healthz, alternating, best of two;
3. the same for a bare Flask view doing one Redis GET against a bare hello-world (bench/reference_app.py,
   on its own gunicorn with our gunicorn.conf.py): the ceiling the status poll is judged against;
4. whole logins, long polls then plain polls, with the /init-to-prompt latency of each;
5. thousands of long polls held at once, and the web server's memory while they wait.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from bench import connections, costs, load, logins, machine_speed, steady
from bench.stats import Figure, format_table, percentile, ratio
from devstack import PROJECT_ROOT
from devstack.processes import ProcessGroup
from devstack.procfile import resolve_command
from devstack.services import EmbeddedPostgres, EmbeddedRedis, EmulatorProcess, StartupError, free_port
from tests.e2e.people import CHROME, unique_phone
from tests.e2e.system import BOT_USERNAME, StartupFailed, System, start_system, wait_http_ok
from webapp.waiting_polls import MAX_WAITING_POLLS_PER_SESSION

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
LOG_DIR = PROJECT_ROOT / "test-artifacts" / "bench-logs"
# Settings of the benchmark's system (besides tests/e2e/system.py's generous rate limits and
# APPROVAL_MODE=simple): polls every second keep the plain-polling run short; sessions outlive
# the run. The send budget towards Telegram is the production one (TELEGRAM_SEND_RATE's default),
# and the emulator answers 429 beyond Telegram's limits, as Telegram would. Every held poll comes from this machine's one address: the per-client cap on waiting polls is
# lifted, and each session is held at most MAX_WAITING_POLLS_PER_SESSION times (the held stage
# starts sessions of its own for that).
BENCH_ENV = {
    "POLL_INTERVAL": "1",
    "AUTH_SESSION_TTL": "900",
    "MAX_WAITING_POLLS_PER_CLIENT": "1000000",
}
GOAL_RATIO = 0.6
GOAL_LONG_POLL_SHARE = 0.1
GOAL_HELD = 5000
GOAL_BYTES_PER_POLL = 20 * 1024


@dataclass(frozen=True)
class Plan:
    """How much to measure."""

    sessions: int = 500
    load_seconds: float = 8.0
    load_connections: int = 64
    logins: int = 400
    people: int = 20
    login_seconds: float = 120.0
    held: int = 5000
    steady_rate: float = 30.0
    steady_seconds: float = 20.0
    over_rate: float = 45.0
    over_seconds: float = 10.0
    # Telegram allows about one message a second per chat: each person's logins are seconds apart.
    steady_people: int = 200
    max_seconds: int = 600


QUICK = Plan(sessions=100, load_seconds=3.0, logins=40, people=10, login_seconds=40.0, held=1000,
             steady_seconds=5.0, over_seconds=3.0, steady_people=100, max_seconds=180)
STAGES = ("throughput", "logins", "steady", "held")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table, write bench/results/latest.txt; 0 unless it broke."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run to try the benchmark itself")
    parser.add_argument("--save", action="store_true", help="also write bench/results/<date>.txt")
    parser.add_argument("--profile", metavar="FILE", type=Path,
                        help="record every process with py-spy during the steady 30/s stage (collapsed stacks, "
                             "for flamegraph.pl or speedscope)")
    parser.add_argument("--stage", action="append", choices=STAGES,
                        help="run only this stage (repeatable; default: all); for profiling one of them")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    # Children inherit the limit: gunicorn's workers need one descriptor per held poll too.
    open_files = connections.raise_open_files_limit(plan.held * 2 + 1024)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGALRM, _interrupt)
    signal.alarm(plan.max_seconds)  # the whole run is bounded, whatever hangs
    started = time.monotonic()
    try:
        figures, context = run(plan, open_files, set(args.stage or STAGES), args.profile)
    except (StartupError, StartupFailed) as exc:
        print(f"bench: the system did not start: {exc}\nlogs: {LOG_DIR}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"bench: interrupted ({exc or 'Ctrl-C'}); everything stopped. logs: {LOG_DIR}", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - a broken stage: say where, after everything was stopped
        traceback.print_exc()
        print(f"bench: failed; everything stopped. logs: {LOG_DIR}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
    context.append(f"run took {time.monotonic() - started:.0f} s")
    report = "\n".join(context) + "\n\n" + format_table(figures) + "\n"
    print("\n" + report)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "latest.txt").write_text(report)
    if args.save:
        (RESULTS_DIR / f"{datetime.date.today().isoformat()}.txt").write_text(report)
    return 0


def run(plan: Plan, open_files: int, stages: set[str], profile: Path | None = None) -> tuple[list[Figure], list[str]]:
    """Start everything, measure every stage, stop everything; return the figures and run notes."""
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    LOG_DIR.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="dom-bench-"))  # short: Postgres's socket lives here
    processes = ProcessGroup(log_dir=LOG_DIR)
    try:
        with EmbeddedPostgres(work / "pg") as postgres, \
                EmbeddedRedis(log_path=LOG_DIR / "redis.log") as redis_server, \
                EmulatorProcess(bot_username=BOT_USERNAME, log_path=LOG_DIR / "emulator.log",
                                telegram_limits=True) as emulator:
            try:
                say("starting release, web, worker and bot from the Procfile")
                database_url = postgres.create_database("dom_bench")
                system = start_system(database_url, redis_server.url, emulator.url, LOG_DIR, processes,
                                      {**os.environ, **BENCH_ENV})
                services = steady.Services(database_url, redis_server.url, system.emulator)
                pids = {name: processes.children[name].proc.pid for name in steady.APP_PROCESSES}
                pids["emulator"] = emulator.pid
                meter = services.meter(pids, {name: LOG_DIR / f"{name}.log" for name in ("web", "worker")})
                return measure(plan, system, processes, open_files, stages, services, meter, profile)
            finally:
                say("stopping every process")
                processes.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(plan: Plan, system: System, processes: ProcessGroup, open_files: int, stages: set[str],
            services: steady.Services, meter: costs.Meter, profile: Path | None = None) -> tuple[list[Figure], list[str]]:
    """Run the stages against a started system."""
    worker = web_worker_description(LOG_DIR / "web.log")
    reference_ms = machine_speed.reference_cpu_ms()
    context = [
        f"Dance of Mind benchmark, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at start; "
        f"Python reference workload {reference_ms:.1f} ms of CPU (bench/machine_speed.py)",
        f"web server: gunicorn, {worker}; settings: " + ", ".join(f"{k}={v}" for k, v in BENCH_ENV.items())
        + ", APPROVAL_MODE=simple, RATE_LIMIT_POLL_BURST=100000",
        f"load client: {load.client_name()}" + ("" if load.wrk_path() else " (wrk is not installed: apt-get install wrk)"),
    ]
    figures: list[Figure] = []

    if "throughput" in stages:
        say(f"creating {plan.sessions} pending sessions")
        session_ids = create_sessions(system.web_url, plan.sessions)
        figures += throughput(plan, system.web_url, session_ids)
        say("starting the reference app (bare Flask, one Redis GET) on the same gunicorn settings")
        figures += reference_throughput(plan, start_reference(system, processes))

    if "logins" in stages:
        say(f"linking {plan.people} Telegram users")
        people = logins.link_people(system.emulator.base_url, plan.people)
        say(f"{plan.logins} logins with long polls, {plan.people} at a time")
        long_run = logins.run_logins(system.web_url, people, plan.logins, long_poll=True, max_seconds=plan.login_seconds)
        say(f"{plan.logins} logins with plain polls every POLL_INTERVAL, {plan.people} at a time")
        plain_run = logins.run_logins(system.web_url, people, plan.logins, long_poll=False, max_seconds=plan.login_seconds)
        figures += login_figures(long_run, plain_run)
        prompts = logins.init_to_prompt(system.emulator, long_run.logins + plain_run.logins)
        figures += [
            latency_figure("/init -> prompt p50", prompts, 0.50, note=f"{len(prompts)} logins"),
            latency_figure("/init -> prompt p99", prompts, 0.99),
        ]
        context.append(f"logins: {plan.people} at a time, each tap {logins.TAP_PAUSE_INTERVALS}-"
                       f"{logins.TAP_PAUSE_INTERVALS + 1} poll intervals after its prompt; "
                       f"long polls {long_run.describe()}, plain polls {plain_run.describe()}; "
                       f"long-poll errors {len(long_run.errors)}, plain errors {len(plain_run.errors)}"
                       + "".join(f"\n  e.g. {e}" for e in sorted(set(long_run.errors + plain_run.errors))[:3]))

    if "steady" in stages:
        figures += steady_stages(plan, system, services, meter, context, reference_ms, profile)

    if "held" in stages:
        held_sessions = -(-plan.held // MAX_WAITING_POLLS_PER_SESSION)
        say(f"creating {held_sessions} pending sessions, then holding up to {plan.held} long polls on them "
            f"(open files limit {open_files})")
        cancel_session, *held_session_ids = create_sessions(system.web_url, held_sessions + 1)
        web_pid = processes.children["web"].proc.pid
        held = asyncio.run(connections.hold_polls(system.web_url, held_session_ids, cancel_session, plan.held, web_pid))
        figures += held_figures(held, plan.held)
        if held.first_errors:
            context.append("held-poll errors, e.g.: " + "; ".join(held.first_errors))
    if (exited := processes.exited()) is not None:
        context.append(f"WARNING: {exited[0]} exited with {exited[1]} during the run")
    return figures, context


def steady_stages(plan: Plan, system: System, services: steady.Services, meter: costs.Meter,
                  context: list[str], reference_ms: float, profile: Path | None = None) -> list[Figure]:
    """Logins at Telegram's rate, then above the send budget; what each login cost."""
    say(f"linking {plan.steady_people} Telegram users for the steady-rate stages")
    people = logins.link_people(system.emulator.base_url, plan.steady_people)
    idle = idle_cpu(meter)
    context.append("idle CPU (5 s, nothing to do): " + ", ".join(f"{n} {v:.1%}" for n, v in idle.items()))
    say(f"{plan.steady_rate:g} logins/s for {plan.steady_seconds:g} s (open loop), send budget {send_rate_text()}")
    profiler = steady.start_profile(profile, plan.steady_seconds) if profile else None
    at_rate = steady.run_stage(meter, services, system.web_url, people, plan.steady_rate, plan.steady_seconds)
    if profiler is not None:
        context.append(steady.finish_profile(profiler, profile))
    context += steady.describe_costs(at_rate)
    context += [f"  e.g. {e}" for e in sorted(set(at_rate.run.errors))[:3]]
    figures = steady.steady_figures(at_rate, plan.steady_seconds, reference_ms)
    say(f"{plan.over_rate:g} logins/s for {plan.over_seconds:g} s, above the send budget")
    over = steady.run_stage(meter, services, system.web_url, people, plan.over_rate, plan.over_seconds)
    context += steady.describe_costs(over)
    context += [f"  e.g. {e}" for e in sorted(set(over.run.errors))[:3]]
    return figures + steady.overload_figures(over, send_rate_text())


def idle_cpu(meter: costs.Meter, seconds: float = 5.0) -> dict[str, float]:
    """Return each process tree's share of a core while the system has nothing to do."""
    before = meter.read()
    time.sleep(seconds)
    spent = meter.read().minus(before).cpu_seconds
    return {name: value / seconds for name, value in spent.items()}


def send_rate_text() -> str:
    """Return the send budget the system runs with (the production default unless BENCH_ENV sets one)."""
    from core.settings import Settings

    return BENCH_ENV.get("TELEGRAM_SEND_RATE") or Settings.model_fields["telegram_send_rate"].default


def say(line: str) -> None:
    """Print a progress line (stderr, so stdout carries only the table)."""
    print(f"bench | {line}", file=sys.stderr, flush=True)


def web_worker_description(log: Path) -> str:
    """Return the worker class and worker count gunicorn logged at startup."""
    text = log.read_text(errors="replace")
    found = re.search(r"Using worker: (\S+)", text)
    workers = len(re.findall(r"Booting worker with pid", text))
    return f"worker class {found.group(1) if found else 'unknown'}, {workers} workers"


def create_sessions(web_url: str, count: int, concurrency: int = 8) -> list[str]:
    """Start `count` logins for unlinked phones (no prompt is sent); return their session ids."""

    def create(phone: str) -> str:
        try:
            response = httpx.post(f"{web_url}/api/auth/init", json={"phone_number": phone},
                                  headers={"User-Agent": CHROME}, timeout=15)
        except httpx.HTTPError as exc:
            raise RuntimeError(f"POST /api/auth/init failed ({type(exc).__name__}) with {concurrency} "
                               f"in flight; see {LOG_DIR / 'web.log'}") from exc
        if response.status_code != 201:
            raise RuntimeError(f"/api/auth/init answered {response.status_code}: {response.text}")
        return response.json()["session_id"]

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(create, [unique_phone() for _ in range(count)]))


def throughput(plan: Plan, web_url: str, session_ids: list[str]) -> list[Figure]:
    """Measure status polls and /healthz alternately, twice each; keep each one's best run."""
    status_paths = [f"/api/auth/status/{sid}" for sid in session_ids]
    best: dict[str, load.LoadResult] = {}
    for round_number in (1, 2):
        for name, paths in (("healthz", ["/healthz"]), ("status", status_paths)):
            say(f"throughput of {name}, round {round_number}: {plan.load_seconds:g} s, {plan.load_connections} connections")
            result = load.run_load(web_url, paths, plan.load_seconds, plan.load_connections)
            if name not in best or result.per_second > best[name].per_second:
                best[name] = result
    status, healthz = best["status"], best["healthz"]

    def errors(result: load.LoadResult) -> str:
        return f"{result.errors} errors of {result.requests}" if result.errors else "no errors"

    return [
        Figure(f"status poll throughput ({len(session_ids)} pending sessions)", status.per_second, "req/s",
               note=f"{load.client_name()}, best of 2, {errors(status)}"),
        Figure("/healthz throughput (same server)", healthz.per_second, "req/s", note=errors(healthz)),
        Figure("status / healthz", ratio(status.per_second, healthz.per_second), at_least=GOAL_RATIO,
               goal_text=f">= {GOAL_RATIO}"),
    ]


def start_reference(system: System, processes: ProcessGroup) -> str:
    """Start bench/reference_app.py under gunicorn with the project's settings; return its URL."""
    port = free_port()
    env = {**system.env, "PORT": str(port)}
    argv = resolve_command("gunicorn bench.reference_app:app", env)
    processes.start("reference", argv, env=env)
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{url}/hello", LOG_DIR / "reference.log", processes, "reference")
    return url


def reference_throughput(plan: Plan, url: str) -> list[Figure]:
    """Measure /redis-get and /hello of the reference app like the real pair; return their ratio."""
    best: dict[str, load.LoadResult] = {}
    for round_number in (1, 2):
        for path in ("/hello", "/redis-get"):
            say(f"reference {path}, round {round_number}: {plan.load_seconds:g} s, {plan.load_connections} connections")
            result = load.run_load(url, [path], plan.load_seconds, plan.load_connections)
            if path not in best or result.per_second > best[path].per_second:
                best[path] = result
    return [
        Figure("reference: one Redis GET / hello-world", ratio(best["/redis-get"].per_second, best["/hello"].per_second),
               note=f"bare Flask, same gunicorn; {best['/redis-get'].per_second:,.0f} / {best['/hello'].per_second:,.0f} req/s"),
    ]


def latency_figure(name: str, seconds: list[float], fraction: float, note: str = "") -> Figure:
    """Return a percentile of latencies in ms (NaN when nothing was measured)."""
    value = percentile(seconds, fraction) * 1000 if seconds else float("nan")
    return Figure(name, value, "ms", note=note)


def login_figures(long_run: logins.LoginRun, plain_run: logins.LoginRun) -> list[Figure]:
    """Return tap-to-browser percentiles of both runs and the goal on their p99s."""
    long_ms, plain_ms = long_run.latencies(), plain_run.latencies()
    long_p99 = latency_figure("tap -> browser p99, long poll", long_ms, 0.99)
    plain_p99 = latency_figure("tap -> browser p99, plain polls", plain_ms, 0.99)
    return [
        latency_figure("tap -> browser p50, long poll (?wait=25)", long_ms, 0.50, note=f"{len(long_ms)} logins"),
        long_p99,
        latency_figure("tap -> browser p50, plain polls (1 s)", plain_ms, 0.50, note=f"{len(plain_ms)} logins"),
        plain_p99,
        Figure("long-poll p99 / plain p99", ratio(long_p99.value, plain_p99.value), at_most=GOAL_LONG_POLL_SHARE,
               goal_text=f"<= {GOAL_LONG_POLL_SHARE}"),
    ]


def held_figures(held: connections.HeldPolls, target: int) -> list[Figure]:
    """Return the held-poll count, memory per poll, and the checks made while they waited.

    Open connections that got no answer count as held only if the server still answers while
    they wait (/healthz, and the poll of a cancelled session): otherwise they are merely queued.
    """
    unresponsive = math.isnan(held.healthz_seconds) or math.isnan(held.cancel_answer_seconds)
    failed = "server unresponsive while they wait: queued, not held" if unresponsive else ""
    return [
        Figure("long polls held at once", held.held, at_least=GOAL_HELD, goal_text=f">= {GOAL_HELD:,}",
               note=f"of {held.attempted} opened; {held.errors} errors, {held.answered_early} answered early",
               failed_check=failed),
        Figure("web memory per held poll", held.bytes_per_poll / 1024, "KB", at_most=GOAL_BYTES_PER_POLL / 1024,
               goal_text=f"<= {GOAL_BYTES_PER_POLL // 1024} KB", failed_check=failed,
               note=f"RSS {held.rss_before / 2**20:.0f} -> {held.rss_during / 2**20:.0f} MB (master + workers)"),
        Figure("/healthz while they wait", held.healthz_seconds * 1000, "ms"),
        Figure("DELETE -> its waiting poll answers", held.cancel_answer_seconds * 1000, "ms",
               note="one session cancelled while all wait"),
    ]


if __name__ == "__main__":
    sys.exit(main())
