"""Two web servers and two workers on one Postgres and one Redis: a login crosses them freely."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tests.e2e.people import Browser, TelegramPerson
from tests.e2e.system import System, procfile_argv, wait_until

# The long poll asks for 20 s; an answer well before that came from the tap, not the timeout.
PROMPT_ANSWER_SECONDS = 8.0


@pytest.fixture(scope="module")
def second_web(system: System) -> str:
    """Start a second gunicorn on the same Postgres and Redis; return its URL."""
    return system.start_web("web-2")


@pytest.fixture(scope="module")
def second_worker(system: System) -> None:
    """Start a second Celery worker (its own node name) on the same broker."""
    log = system.log_dir / "worker-2.log"
    argv = [*procfile_argv("worker", system.env), "-n", "worker-2@%h"]
    system.processes.start("worker-2", argv, env=system.env)
    wait_until(lambda: " ready." in log.read_text(errors="replace"), 60, "second worker", log, system.processes, "worker-2")


def long_poll(base_url: str, session_id: str, wait: int, result: dict[str, Any]) -> None:
    """Long-poll one status on `base_url`, storing the answer and how long it took."""
    started = time.monotonic()
    response = httpx.get(f"{base_url}/api/auth/status/{session_id}?wait={wait}", timeout=wait + 15)
    result.update(code=response.status_code, body=response.json(), seconds=time.monotonic() - started)


def test_a_login_started_on_one_web_server_completes_through_the_other(
    system: System, second_web: str, second_worker: None, linked_person: TelegramPerson
):
    with system.http() as first, system.http(second_web) as second:
        started = Browser(first).init(linked_person.phone)
        prompt = linked_person.wait_for_prompt()
        result: dict[str, Any] = {}
        waiting = threading.Thread(target=long_poll, args=(second_web, started["session_id"], 20, result))
        waiting.start()
        time.sleep(1.0)  # let the poll start waiting on web 2
        assert not result, result
        linked_person.tap(prompt, 0)
        waiting.join(timeout=40)
        assert result["code"] == 200 and result["body"]["status"] == "approved", result
        assert result["seconds"] < PROMPT_ANSWER_SECONDS
        tokens = result["body"]["tokens"]
        # Tokens of web 2 work on web 1, and the session is consumed for both.
        assert Browser(first).me(tokens["access_token"]).status_code == 200
        assert Browser(first).status(started["session_id"]).status_code == 410
        assert Browser(second).status(started["session_id"]).status_code == 410

