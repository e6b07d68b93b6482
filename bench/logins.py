"""Whole logins played concurrently: a browser polls, a person taps Approve in the emulator.

Measures the tap-to-browser latency (from the emulator tap call to the browser's answer) with
long polls or with plain polls, and the /init-to-prompt latency (from the API call to the
emulator receiving the prompt's `sendMessage`, on the emulator's clock: the same machine).

A person taps 2 to 3 poll intervals after the prompt is there, at random: a human's pause (reading
the prompt takes seconds), and its fraction of an interval is uniform, so taps land at every phase
of a plain-polling browser's schedule (which starts at /init); a fixed pause would always hit the
same phase and measure only that one. Tapping at once instead (up to one interval) had 20 people
make 23 logins a second and kept these 2 cores 85% busy, so the tail measured the queue for the
CPU, not the login: each run reports its rate and how busy the machine was.
"""

from __future__ import annotations

import math
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from telegram_emulator.client import EmulatorClient, EmulatorError
from tests.e2e.people import CHROME, TelegramPerson, inline_buttons

LONG_POLL_WAIT = 25  # ?wait=N of every long poll (the contract allows up to 30)
PROMPT_TIMEOUT = 20.0  # seconds a person waits for the approval prompt before the login counts as failed
ANSWER_TIMEOUT = 35.0  # seconds after the tap a browser waits for the outcome
CHAT_WAIT_SECONDS = 1.0  # a person's chat read waits this long for the bot's next message (then the run's stop is checked)
# A person taps between this many poll intervals and one more after the prompt appears.
TAP_PAUSE_INTERVALS = 2
APPROVE_PREFIX = "ap:"  # callback data of the simple prompt's approve button: ap:<session uuid>


@dataclass(frozen=True)
class Login:
    """One login's timestamps (time.time()); `status` is what the browser finally saw."""

    session_pk: str
    init_at: float
    tap_at: float
    answered_at: float
    status: str

    @property
    def tap_to_browser(self) -> float:
        """Return seconds from the tap call to the browser's answer."""
        return self.answered_at - self.tap_at


@dataclass(frozen=True)
class LoginRun:
    """The logins that completed, the errors of those that did not, and the load they made."""

    logins: list[Login]
    errors: list[str]
    seconds: float = 0.0  # wall time of the run
    cpu_busy: float = math.nan  # fraction of the machine's CPU time busy meanwhile (all processes)

    def describe(self) -> str:
        """Return the run's rate and load, e.g. "7.9 logins/s, CPU 41% busy"."""
        rate = len(self.logins) / self.seconds if self.seconds else math.nan
        return f"{rate:.1f} logins/s, CPU {self.cpu_busy:.0%} busy"

    def latencies(self) -> list[float]:
        """Return tap-to-browser seconds of the approved logins."""
        return [login.tap_to_browser for login in self.logins if login.status == "approved"]


# Each link costs two bot messages: 10 at a time stays near the send budget instead of
# queueing the bot's replies past the wait it allows them.
LINKS_AT_ONCE = 10


def link_people(emulator_url: str, count: int) -> list[TelegramPerson]:
    """Create `count` Telegram users and link each one's phone through the bot, a few at a time."""

    def one(_: int) -> TelegramPerson:
        person = TelegramPerson(EmulatorClient(emulator_url))
        person.link()
        return person

    with ThreadPoolExecutor(max_workers=min(count, LINKS_AT_ONCE)) as pool:
        return list(pool.map(one, range(count)))


def poll_until_decided(http: httpx.Client, session_id: str, long_poll: bool, deadline: float) -> tuple[float, str]:
    """Poll a session like a browser until it leaves `pending`; return (answer time, status).

    Both modes keep to the `poll_interval` the server advertises between the starts of two
    polls; a long poll simply asks the server to hold the answer, so a server that ignores
    `wait` degrades to plain polling instead of being hammered.
    """
    params = {"wait": str(LONG_POLL_WAIT)} if long_poll else None
    while time.monotonic() < deadline:
        started = time.monotonic()
        response = http.get(f"/api/auth/status/{session_id}", params=params)
        answered_at = time.time()
        if response.status_code != 200:
            return answered_at, f"http {response.status_code}: {response.text[:120]}"
        body = response.json()
        if body["status"] != "pending":
            return answered_at, body["status"]
        time.sleep(max(0.0, float(body.get("poll_interval", 1)) - (time.monotonic() - started)))
    return time.time(), "timeout"


def _approval_prompt(messages: list[dict[str, Any]], used: set[str]) -> tuple[dict[str, Any], str] | None:
    """Return a live approval prompt of a session not tapped yet, and its session uuid."""
    for message in reversed(messages):
        if not message["from_bot"] or message["deleted"]:
            continue
        buttons = inline_buttons(message)
        data = buttons[0].get("callback_data", "") if buttons else ""
        if data.startswith(APPROVE_PREFIX) and data[len(APPROVE_PREFIX):] not in used:
            return message, data[len(APPROVE_PREFIX):]
    return None


def _logins_of(person: TelegramPerson, web_url: str, count: int, long_poll: bool, pollers: ThreadPoolExecutor,
               deadline: float, stop: threading.Event) -> LoginRun:
    """Play `count` logins of one person, one after the other; a login that fails is an error, not a crash."""
    logins: list[Login] = []
    errors: list[str] = []
    used: set[str] = set()
    with httpx.Client(base_url=web_url, headers={"User-Agent": CHROME}, timeout=LONG_POLL_WAIT + 10) as http:
        for _ in range(count):
            if stop.is_set() or time.monotonic() > deadline:
                errors.append("run stopped or its time was up")
                break
            try:
                logins.append(_one_login(person, http, long_poll, pollers, used, stop))
            except (LoginFailed, httpx.HTTPError, EmulatorError, KeyError, ValueError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:160])
    return LoginRun(logins, errors)


class LoginFailed(RuntimeError):
    """A login did not go the way a person and a browser expect."""


def _one_login(person: TelegramPerson, http: httpx.Client, long_poll: bool, pollers: ThreadPoolExecutor,
               used: set[str], stop: threading.Event) -> Login:
    """Init, let the browser poll, wait for the prompt, pause, tap Approve, wait for the browser's answer."""
    init_at = time.time()
    response = http.post("/api/auth/init", json={"phone_number": person.phone})
    if response.status_code != 201:
        raise LoginFailed(f"init answered {response.status_code} {response.text[:100]}")
    session_id = response.json()["session_id"]
    poll_interval = float(response.json()["poll_interval"])
    answer: Future[tuple[float, str]] = pollers.submit(
        poll_until_decided, http, session_id, long_poll, time.monotonic() + PROMPT_TIMEOUT + ANSWER_TIMEOUT)
    found = None
    newest = 0  # the newest bot message seen: the first read answers at once
    prompt_deadline = time.monotonic() + PROMPT_TIMEOUT
    while found is None and time.monotonic() < prompt_deadline and not stop.is_set():
        # A waiting read: asking again and again would load the emulator (and these 2 cores).
        chat = person.emulator.chat(person.id, after_message_id=newest, wait=CHAT_WAIT_SECONDS)
        found = _approval_prompt(chat["messages"], used)
        newest = max((m["message_id"] for m in chat["messages"] if m["from_bot"]), default=newest)
    if found is None:
        http.delete(f"/api/auth/session/{session_id}")  # the browser's poll ends with "cancelled"
        answer.result()
        raise LoginFailed(f"no prompt within {PROMPT_TIMEOUT:g} s")
    message, session_pk = found
    used.add(session_pk)
    time.sleep(random.uniform(TAP_PAUSE_INTERVALS, TAP_PAUSE_INTERVALS + 1) * poll_interval)
    tap_at = time.time()
    person.tap(message, 0)
    answered_at, status = answer.result()
    if status != "approved":
        raise LoginFailed(f"the browser saw {status}")
    return Login(session_pk, init_at, tap_at, answered_at, status)


def run_logins(web_url: str, people: list[TelegramPerson], total: int, long_poll: bool, max_seconds: float) -> LoginRun:
    """Run `total` logins spread over `people` (one login at a time each, all people at once)."""
    per_person = math.ceil(total / len(people))
    started, cpu_before = time.monotonic(), cpu_times()
    deadline = started + max_seconds
    stop = threading.Event()
    persons = ThreadPoolExecutor(max_workers=len(people), thread_name_prefix="person")
    pollers = ThreadPoolExecutor(max_workers=len(people), thread_name_prefix="browser")
    try:
        futures = [persons.submit(_logins_of, p, web_url, per_person, long_poll, pollers, deadline, stop)
                   for p in people]
        runs = [future.result() for future in futures]
    except BaseException:
        # Ctrl-C or the run's alarm: don't wait for the threads; stopping the processes ends their requests.
        stop.set()
        raise
    finally:
        persons.shutdown(wait=False, cancel_futures=True)
        pollers.shutdown(wait=False, cancel_futures=True)
    busy, total_cpu = (after - before for after, before in zip(cpu_times(), cpu_before))
    return LoginRun([x for run in runs for x in run.logins], [e for run in runs for e in run.errors],
                    time.monotonic() - started, busy / total_cpu if total_cpu else math.nan)


def cpu_times() -> tuple[float, float]:
    """Return the machine's (busy, total) CPU time so far, in clock ticks, from /proc/stat (NaN elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            fields = [float(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return math.nan, math.nan
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def init_to_prompt(emulator: EmulatorClient, logins: list[Login]) -> list[float]:
    """Return, per login, seconds from the /init call to the emulator receiving its prompt."""
    first_prompt: dict[str, float] = {}
    for call in emulator.calls("sendMessage"):
        markup = str(call["params"].get("reply_markup", ""))
        if APPROVE_PREFIX in markup:
            pk = markup.split(APPROVE_PREFIX, 1)[1][:36]
            first_prompt.setdefault(pk, call["time"])
    return [first_prompt[x.session_pk] - x.init_at for x in logins if x.session_pk in first_prompt]
