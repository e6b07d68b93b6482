"""Redis stopped or hung: the API answers 503 at once (never hangs), and recovers by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import httpx
import pytest

from devstack import PROJECT_ROOT
from tests.e2e.people import TelegramPerson
from tests.faults.system import FaultSystem, RecordingBrowser, last_message_id, timed, wait_for, wait_for_prompt_after

# "Within a few seconds": the limits' Redis client gives up after 2 x 1 s, Celery's publish after 2 s.
FAIL_FAST_SECONDS = 4.5


def assert_unavailable(response: httpx.Response, seconds: float) -> None:
    """Assert a quick 503 in the API's error shape, with Retry-After."""
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert seconds < FAIL_FAST_SECONDS, f"took {seconds:.1f} s"


def log_in(browser: RecordingBrowser, person: TelegramPerson) -> dict[str, Any]:
    """Run a whole login (approve in Telegram) and return its tokens."""
    seen = last_message_id(person)
    started = browser.init(person.phone)
    person.tap(wait_for_prompt_after(person, seen), 0)
    return browser.wait_for_status(started["session_id"], "approved")["tokens"]


def init(browser: RecordingBrowser, phone: str) -> httpx.Response:
    """Post /api/auth/init without asserting the answer."""
    return browser.http.post("/api/auth/init", json={"phone_number": phone}, headers=browser.headers)


def pids(faults: FaultSystem) -> dict[str, int]:
    """Return the pid of every long-running process (to prove none was restarted)."""
    return {name: faults.processes.children[name].proc.pid for name in ("web", "worker", "bot")}


@pytest.mark.fault("Redis stopped, then started again on the same port")
def test_redis_stopped_gives_quick_503s_and_recovery_without_restarts(
    faults: FaultSystem, browser: RecordingBrowser, linked_person: TelegramPerson
) -> None:
    pending = browser.init(linked_person.phone)
    linked_person.wait_for_prompt()
    # Redis goes right after a login: the worker may then hold unacknowledged messages (a sweep,
    # a prompt's edit), which made Celery 5.7 exit on every try (tasks/broker.py).
    tokens = log_in(browser, linked_person)
    processes_before = pids(faults)

    faults.stop_redis()
    try:
        assert_unavailable(*timed(init, browser, linked_person.phone))
        # Status polling and refresh are rate limited in Redis: they fail closed.
        assert_unavailable(*timed(browser.status, pending["session_id"]))
        refresh = browser.http.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert_unavailable(refresh, refresh.elapsed.total_seconds())
        # Token checks need only Postgres (revocation lives there): they go on working, and a
        # login ended while Redis is down is refused at once.
        me, seconds = timed(browser.me, tokens["access_token"])
        assert me.status_code == 200 and seconds < FAIL_FAST_SECONDS, me.text
        logout = browser.http.post("/api/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert logout.status_code == 204, logout.text
        assert browser.me(tokens["access_token"]).status_code == 401
    finally:
        faults.start_redis()

    # Back on the same port, empty: a new login works, end to end, with the same processes.
    seen = last_message_id(linked_person)
    response = init(browser, linked_person.phone)
    assert response.status_code == 201, response.text
    browser.record.append(response.json()["session_id"])
    linked_person.tap(wait_for_prompt_after(linked_person, seen, timeout=30), 0)
    assert browser.wait_for_status(response.json()["session_id"], "approved")["tokens"]
    assert pids(faults) == processes_before
    # The login left pending across the outage still answers (its Redis mirror is gone).
    assert browser.status(pending["session_id"]).json()["status"] == "pending"


@pytest.mark.fault("Redis hung (SIGSTOP: connections accepted, never answered)")
def test_a_hung_redis_costs_seconds_not_a_hang(
    faults: FaultSystem, browser: RecordingBrowser, linked_person: TelegramPerson
) -> None:
    pending = browser.init(linked_person.phone)
    linked_person.wait_for_prompt()
    # The web app checks the limits before it publishes, so time Celery's publish on its own too:
    # celeryconfig's timeouts and retry policy, on a connection opened before the hang.
    publisher = start_publisher(faults)
    worker_log = faults.log_size("worker")
    os.kill(faults.redis._proc.pid, signal.SIGSTOP)
    try:
        assert_unavailable(*timed(init, browser, linked_person.phone))
        assert_unavailable(*timed(browser.status, pending["session_id"]))
        outcome, seconds = timed(publish_once_more, publisher)
        assert outcome.startswith("failed"), outcome
        assert seconds < FAIL_FAST_SECONDS, f"publishing took {seconds:.1f} s"
    finally:
        os.kill(faults.redis._proc.pid, signal.SIGCONT)
        publisher.kill()
        publisher.wait(5)
    response = init(browser, linked_person.phone)
    assert response.status_code == 201, response.text
    browser.record.append(response.json()["session_id"])
    # A worker that noticed the hang reconnects by itself and re-enqueues what logins need (and
    # must have done so before the next test, whose logins it would otherwise sweep too).
    if "Connection to broker lost" in faults.log_since("worker", worker_log):
        wait_for(
            lambda: "why=reconnected" in faults.log_since("worker", worker_log), 30, "the worker reconnecting"
        )


# Publishes once (opening its pooled broker connection), then once more per line read.
PUBLISHER_SCRIPT = """
import sys
import tasks
NIL = "00000000-0000-0000-0000-000000000000"
tasks.enqueue_prompt_update(NIL)
print("ready", flush=True)
for _ in sys.stdin:
    try:
        tasks.enqueue_prompt_update(NIL)
        print("published", flush=True)
    except Exception as exc:
        print("failed", type(exc).__name__, flush=True)
"""


def start_publisher(faults: FaultSystem) -> subprocess.Popen[str]:
    """Start a process configured like the web app that publishes a task on request."""
    publisher = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER_SCRIPT],
        cwd=PROJECT_ROOT,
        env=faults.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert publisher.stdout is not None and publisher.stdout.readline().strip() == "ready"
    return publisher


def publish_once_more(publisher: subprocess.Popen[str]) -> str:
    """Ask the publisher for one more task and return what it says ("published" or "failed ...")."""
    assert publisher.stdin is not None and publisher.stdout is not None
    publisher.stdin.write("go\n")
    publisher.stdin.flush()
    return publisher.stdout.readline().strip()
