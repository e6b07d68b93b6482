"""`make soak`: whole logins for minutes on end, watching every process's memory and Redis.

Usage: python -m bench.soak [--minutes 10] [--warmup 90] [--save]

Starts the whole system on embedded services as `make bench` does (release, web, worker, bot
from the Procfile; Postgres, Redis and the Telegram emulator embedded) with a short session TTL,
then plays whole logins, a few people at a time: /init -> the prompt in the emulator -> a tap
-> the browser's long poll -> tokens. Every few seconds it prints the RSS of each process tree
(web: gunicorn's master and workers; worker: Celery's main process and its prefork children;
bot) and Redis's keys and used memory. At the end: each tree's growth per login after the
warm-up (the goal: <= 0.5 KB), and Redis's keys by kind with their TTLs: whether what grows
expires, and what that holds at 30 logins/s.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from bench import costs, logins
from bench.__main__ import say
from bench.soak_figures import (
    GOAL_BYTES_PER_LOGIN,
    KeyKind,
    Sample,
    after_warmup,
    bytes_per_key,
    growth_per_login,
    key_growth_per_login,
    key_kind,
    live_keys_per_login,
    steady_keys,
    unbounded_kinds,
)
from devstack import PROJECT_ROOT
from devstack.processes import ProcessGroup
from devstack.services import EmbeddedPostgres, EmbeddedRedis, EmulatorProcess, StartupError
from telegram_emulator.client import EmulatorClient, EmulatorError
from tests.e2e.people import CHROME, TelegramPerson, inline_buttons
from tests.e2e.system import BOT_USERNAME, StartupFailed, System, start_system

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
LOG_DIR = PROJECT_ROOT / "test-artifacts" / "soak-logs"
PROCESSES = ("web", "worker", "bot")
# The soak: sessions live 60 s, so the worker's countdown tasks (one expiry per login,
# held until the session's TTL) reach their steady number within the warm-up. Prompts are not
# held back by the send budget: the soak measures what a login leaves behind, not the budget.
SOAK_ENV = {
    "AUTH_SESSION_TTL": "60",
    "POLL_INTERVAL": "1",
    "TELEGRAM_SEND_RATE": "1000/second",
    "MAX_WAITING_POLLS_PER_CLIENT": "1000000",
}
PEOPLE = 6  # logins at a time
# A person's chat is read whole by the emulator's control API: a fresh person every this many
# logins keeps that read short (its cost would otherwise grow with the run).
LOGINS_PER_PERSON = 100
SAMPLE_SECONDS = 10.0
# The soak ran 3,750 logins in 330 s (about 11/s). A steady rate keeps the number of
# logins alive at once steady after the warm-up, so what still grows is what each login leaves.
DEFAULT_RATE = 12.0
RATE_FOR_REDIS = 30.0  # logins/s: Telegram's ceiling for one bot, the rate Redis's bound is stated at
PROMPT_TIMEOUT = 20.0
ANSWER_TIMEOUT = 35.0


@dataclass
class Tally:
    """Logins completed and failed so far, shared by the people's threads."""

    completed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, error: str | None) -> None:
        """Count one login, completed or (with why) failed."""
        with self.lock:
            if error is None:
                self.completed += 1
            else:
                self.failed += 1
                if len(self.errors) < 5:
                    self.errors.append(error[:160])


class Pace:
    """Turns to start a login, at most `rate` a second over all people (0: no limit)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate if rate > 0 else 0.0
        self.next_at = time.monotonic()
        self.lock = threading.Lock()

    def wait_turn(self, stop: threading.Event) -> bool:
        """Wait for the next turn; False if the run stopped meanwhile."""
        with self.lock:
            at = max(self.next_at, time.monotonic())
            self.next_at = at + self.interval
        return not stop.wait(max(0.0, at - time.monotonic()))


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    """Run the soak; print samples as they come and the verdict at the end; 0 unless it broke."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long logins run, warm-up included (10)")
    parser.add_argument("--warmup", type=float, default=90.0, help="seconds before growth is counted (90)")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE,
                        help=f"logins started per second, at most ({DEFAULT_RATE:g}; 0: as fast as {PEOPLE} people go)")
    parser.add_argument("--save", action="store_true", help="also write bench/results/soak-<date>.txt")
    args = parser.parse_args(argv)
    if args.minutes * 60 <= args.warmup + 3 * SAMPLE_SECONDS:
        parser.error("--minutes must leave at least 30 s after --warmup")
    signal.signal(signal.SIGTERM, _interrupt)
    lines: list[str] = []

    def out(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    try:
        run(args.minutes * 60, args.warmup, args.rate, out)
    except (StartupError, StartupFailed) as exc:
        print(f"soak: the system did not start: {exc}\nlogs: {LOG_DIR}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"soak: interrupted ({exc or 'Ctrl-C'}); everything stopped. logs: {LOG_DIR}", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - a broken run: say where, after everything was stopped
        traceback.print_exc()
        print(f"soak: failed; everything stopped. logs: {LOG_DIR}", file=sys.stderr)
        return 1
    report = "\n".join(lines) + "\n"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "soak-latest.txt").write_text(report)
    if args.save:
        (RESULTS_DIR / f"soak-{datetime.date.today().isoformat()}.txt").write_text(report)
    return 0


def run(seconds: float, warmup: float, rate: float, out) -> None:
    """Start everything, soak, stop everything."""
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    LOG_DIR.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="dom-soak-"))  # short: Postgres's socket lives here
    processes = ProcessGroup(log_dir=LOG_DIR)
    try:
        with EmbeddedPostgres(work / "pg") as postgres, \
                EmbeddedRedis(log_path=LOG_DIR / "redis.log") as redis_server, \
                EmulatorProcess(bot_username=BOT_USERNAME, log_path=LOG_DIR / "emulator.log") as emulator:
            try:
                say("starting release, web, worker and bot from the Procfile")
                database_url = postgres.create_database("dom_soak")
                system = start_system(database_url, redis_server.url, emulator.url, LOG_DIR, processes,
                                      {**os.environ, **SOAK_ENV})
                soak(system, processes, redis.Redis.from_url(redis_server.url), seconds, warmup, rate, out)
            finally:
                say("stopping every process")
                processes.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def soak(system: System, processes: ProcessGroup, client: redis.Redis, seconds: float, warmup: float, rate: float,
         out) -> None:
    """Play logins for `seconds`, sampling as they go; print the samples and the verdict."""
    pids = {name: processes.children[name].proc.pid for name in PROCESSES}
    out(f"Dance of Mind soak, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
        f"machine: {os.cpu_count()} cores")
    out(f"{PEOPLE} logins at a time, {f'at most {rate:g}/s' if rate else 'as fast as they go'}, for "
        f"{seconds / 60:g} min, warm-up {warmup:g} s; settings: "
        + ", ".join(f"{k}={v}" for k, v in SOAK_ENV.items()) + ", APPROVAL_MODE=simple")
    out("whole logins: /init -> prompt in the emulator -> tap -> long poll (?wait=25) -> tokens")
    out("")
    out(f"{'s':>5} {'logins':>7} {'failed':>6} " + " ".join(f"{name + ' MB':>9}" for name in PROCESSES)
        + f" {'redis keys':>10} {'redis MB':>9}")
    tally, stop, pace = Tally(), threading.Event(), Pace(rate)
    started = time.monotonic()
    people = ThreadPoolExecutor(max_workers=PEOPLE, thread_name_prefix="person")
    browsers = ThreadPoolExecutor(max_workers=PEOPLE, thread_name_prefix="browser")
    samples: list[Sample] = []
    try:
        runs = [people.submit(_person_slot, system, tally, stop, browsers, pace) for _ in range(PEOPLE)]
        while (elapsed := time.monotonic() - started) < seconds:
            sample = _sample(elapsed, tally.completed, pids, client)
            samples.append(sample)
            out(f"{sample.seconds:5.0f} {sample.logins:7d} {tally.failed:6d} "
                + " ".join(f"{sample.rss[name] / 2**20:9.1f}" for name in PROCESSES)
                + f" {sample.redis_keys:10d} {sample.redis_bytes / 2**20:9.1f}")
            if any(run.done() for run in runs):
                break  # a person's thread died: its exception is raised below
            time.sleep(max(0.0, SAMPLE_SECONDS - (time.monotonic() - started - elapsed)))
        stop.set()
        for run in runs:
            run.result(timeout=PROMPT_TIMEOUT + ANSWER_TIMEOUT + 10)
        samples.append(_sample(time.monotonic() - started, tally.completed, pids, client))
    finally:
        stop.set()
        people.shutdown(wait=False, cancel_futures=True)
        browsers.shutdown(wait=False, cancel_futures=True)
    _verdict(samples, warmup, tally, _key_kinds(client, samples, warmup), out)
    if (exited := processes.exited()) is not None:
        out(f"WARNING: {exited[0]} exited with {exited[1]} during the run")


def _person_slot(system: System, tally: Tally, stop: threading.Event, browsers: ThreadPoolExecutor,
                 pace: Pace) -> None:
    """Play logins one after the other, a fresh linked person every LOGINS_PER_PERSON logins."""
    with httpx.Client(base_url=system.web_url, headers={"User-Agent": CHROME},
                      timeout=logins.LONG_POLL_WAIT + 10) as http:
        while not stop.is_set():
            person = TelegramPerson(EmulatorClient(system.emulator.base_url))
            person.link()
            newest = 0
            for _ in range(LOGINS_PER_PERSON):
                if stop.is_set() or not pace.wait_turn(stop):
                    return
                try:
                    newest = _one_login(person, http, browsers, newest, stop)
                    tally.add(None)
                except (logins.LoginFailed, httpx.HTTPError, EmulatorError, KeyError, ValueError) as exc:
                    tally.add(f"{type(exc).__name__}: {exc}")


def _one_login(person: TelegramPerson, http: httpx.Client, browsers: ThreadPoolExecutor, newest: int,
               stop: threading.Event) -> int:
    """Play one whole login; return the newest bot message id seen in the person's chat."""
    response = http.post("/api/auth/init", json={"phone_number": person.phone})
    if response.status_code != 201:
        raise logins.LoginFailed(f"init answered {response.status_code} {response.text[:100]}")
    session_id = response.json()["session_id"]
    answer: Future[tuple[float, str]] = browsers.submit(
        logins.poll_until_decided, http, session_id, True, time.monotonic() + PROMPT_TIMEOUT + ANSWER_TIMEOUT)
    prompt, deadline = None, time.monotonic() + PROMPT_TIMEOUT
    while prompt is None and time.monotonic() < deadline and not stop.is_set():
        chat = person.emulator.chat(person.id, after_message_id=newest, wait=logins.CHAT_WAIT_SECONDS)
        fresh = [m for m in chat["messages"] if m["from_bot"] and m["message_id"] > newest]
        newest = max((m["message_id"] for m in fresh), default=newest)
        prompt = next((m for m in fresh if _approves(m)), None)
    if prompt is None:
        http.delete(f"/api/auth/session/{session_id}")  # the browser's poll ends with "cancelled"
        answer.result()
        raise logins.LoginFailed(f"no prompt within {PROMPT_TIMEOUT:g} s")
    person.tap(prompt, 0)
    _, status = answer.result()
    if status != "approved":
        raise logins.LoginFailed(f"the browser saw {status}")
    return newest


def _approves(message: dict[str, Any]) -> bool:
    buttons = inline_buttons(message)
    return bool(buttons) and str(buttons[0].get("callback_data", "")).startswith(logins.APPROVE_PREFIX)


def _sample(seconds: float, completed: int, pids: dict[str, int], client: redis.Redis) -> Sample:
    kinds: dict[str, int] = {}
    for key in client.scan_iter(count=1000):
        kind = key_kind(key.decode(errors="replace"))
        kinds[kind] = kinds.get(kind, 0) + 1
    return Sample(seconds, completed, {name: costs.tree_rss_bytes(pid) for name, pid in pids.items()}, client.dbsize(),
                  int(client.info("memory")["used_memory"]), kinds)


def _key_kinds(client: redis.Redis, samples: list[Sample], warmup: float) -> list[KeyKind]:
    """Return every kind of key in Redis now, with its longest TTL and its growth after the warm-up."""
    keys = [key for key in client.scan_iter(count=1000)]
    ttls: list[int] = []
    for start in range(0, len(keys), 1000):
        with client.pipeline(transaction=False) as pipe:
            for key in keys[start:start + 1000]:
                pipe.pttl(key)
            ttls += pipe.execute()
    grouped: dict[str, list[int]] = {}
    for key, ttl in zip(keys, ttls):
        grouped.setdefault(key_kind(key.decode(errors="replace")), []).append(ttl)
    measured = after_warmup(samples, warmup)
    kinds = []
    for name, kind_ttls in grouped.items():
        expiring = [t for t in kind_ttls if t > 0]
        kinds.append(KeyKind(name, len(kind_ttls), max(expiring) / 1000 if expiring else math.nan,
                             sum(1 for t in kind_ttls if t == -1), key_growth_per_login(measured, name)))
    return sorted(kinds, key=lambda k: -k.count)


def _verdict(samples: list[Sample], warmup: float, tally: Tally, kinds: list[KeyKind], out) -> None:
    """Print growth per login per process tree and Redis's bound."""
    measured = after_warmup(samples, warmup)
    first, last = measured[0], measured[-1]
    logins_measured = last.logins - first.logins
    rate = samples[-1].logins / samples[-1].seconds if samples[-1].seconds else math.nan
    out("")
    out(f"{tally.completed} logins completed ({rate:.1f}/s), {tally.failed} failed"
        + "".join(f"\n  e.g. {e}" for e in tally.errors[:3]))
    out(f"after the {warmup:g} s warm-up: {logins_measured} logins over {last.seconds - first.seconds:.0f} s, "
        f"{len(measured)} samples")
    out("")
    out(f"{'process tree':<14} {'RSS after warm-up':>18} {'at the end':>11} {'growth/login':>13}  goal <= "
        f"{GOAL_BYTES_PER_LOGIN / 1024:g} KB")
    verdicts = []
    for name in PROCESSES:
        growth = growth_per_login(measured, name)
        ok = not math.isnan(growth) and growth <= GOAL_BYTES_PER_LOGIN
        verdicts.append(ok)
        out(f"{name:<14} {first.rss[name] / 2**20:15.1f} MB {last.rss[name] / 2**20:8.1f} MB "
            f"{growth / 1024:10.2f} KB  {'PASS' if ok else 'MISS'}")
    out("")
    out(f"redis: {first.redis_keys} -> {last.redis_keys} keys, {first.redis_bytes / 2**20:.1f} -> "
        f"{last.redis_bytes / 2**20:.1f} MB used after the warm-up")
    out(f"{'key kind':<44} {'keys':>7} {'max TTL':>9} {'no TTL':>7} {'growth/login':>12} {'alive/login':>11}")
    for kind in kinds:
        ttl = "-" if math.isnan(kind.max_ttl_seconds) else f"{kind.max_ttl_seconds:.{0 if kind.max_ttl_seconds >= 10 else 1}f} s"
        out(f"{kind.name[:44]:<44} {kind.count:7d} {ttl:>9} {kind.without_ttl:7d} {kind.growth_per_login:12.3f} "
            f"{live_keys_per_login(kind, samples):11.3f}")
    unbounded = unbounded_kinds(kinds)
    per_key = bytes_per_key(measured)
    at_rate = steady_keys(kinds, samples, RATE_FOR_REDIS)
    out(f"redis bounded by its TTLs: {'PASS' if not unbounded else 'MISS: ' + ', '.join(k.name for k in unbounded)}")
    out(f"at {RATE_FOR_REDIS:g} logins/s the expiring keys hold at most ~{at_rate:,.0f} keys"
        + (f", ~{at_rate * per_key / 2**20:,.0f} MB at {per_key:.0f} bytes per key" if per_key > 0 else ""))
    out(f"memory flat after warm-up: {'PASS' if all(verdicts) else 'MISS'}")


if __name__ == "__main__":
    sys.exit(main())
