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
from tests.faults.system import FaultSystem, RecordingBrowser, last_message_id, timed, wait_for_prompt_after

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
    started = browser.init(person.phone)
    person.tap(person.wait_for_prompt(), 0)
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
    tokens = log_in(browser, linked_person)
    pending = browser.init(linked_person.phone)
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

    # Back on the same port, empty: the very first login works, end to end, with the same processes.
    seen = last_message_id(linked_person)
    response = init(browser, linked_person.phone)
    assert response.status_code == 201, response.text
    browser.record.append(response.json()["session_id"])
    linked_person.tap(wait_for_prompt_after(linked_person, seen, timeout=30), 0)
    assert browser.wait_for_status(response.json()["session_id"], "approved")["tokens"]
    assert pids(faults) == processes_before


@pytest.mark.fault("Redis hung (SIGSTOP: connections accepted, never answered)")
def test_a_hung_redis_costs_seconds_not_a_hang(
    faults: FaultSystem, browser: RecordingBrowser, linked_person: TelegramPerson
) -> None:
    pending = browser.init(linked_person.phone)
    linked_person.wait_for_prompt()
    os.kill(faults.redis._proc.pid, signal.SIGSTOP)
    try:
        assert_unavailable(*timed(init, browser, linked_person.phone))
        assert_unavailable(*timed(browser.status, pending["session_id"]))
        # The web app checks the limits before it publishes, so time Celery's publish on its
        # own: celeryconfig's timeouts and retry policy, against the hung server.
        published, seconds = timed(publish_with_celeryconfig, faults)
        assert published.returncode == 3, published.stdout + published.stderr
        assert seconds < FAIL_FAST_SECONDS + 3, f"publish took {seconds:.1f} s"  # + a Python start-up
    finally:
        os.kill(faults.redis._proc.pid, signal.SIGCONT)
    response = init(browser, linked_person.phone)
    assert response.status_code == 201, response.text
    browser.record.append(response.json()["session_id"])


PUBLISH_SCRIPT = """
import sys, time
import tasks
started = time.monotonic()
try:
    tasks.enqueue_prompt_update("00000000-0000-0000-0000-000000000000")
except Exception as exc:
    print(type(exc).__name__, exc, round(time.monotonic() - started, 2))
    sys.exit(3)
sys.exit(0)
"""


def publish_with_celeryconfig(faults: FaultSystem) -> subprocess.CompletedProcess[str]:
    """Publish one task from a fresh process configured like the web app; exit 3 when it fails."""
    return subprocess.run(
        [sys.executable, "-c", PUBLISH_SCRIPT],
        cwd=PROJECT_ROOT,
        env=faults.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
