"""Metrics and request ids over the real processes: gunicorn's workers, the Celery worker, the bot."""

from __future__ import annotations

import json
import secrets
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.people import Browser, TelegramPerson


def samples(base_url: str) -> dict[tuple[str, tuple], float]:
    """Scrape /metrics on a fresh connection and return its samples by (name, sorted labels)."""
    response = httpx.get(f"{base_url}/metrics", timeout=15)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def wait_for_line(path, fragment: str, timeout: float = 20) -> str:
    """Return the first line of a process log that contains `fragment`, waiting for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in path.read_text(errors="replace").splitlines():
            if fragment in line:
                return line
        time.sleep(0.2)
    raise AssertionError(f"{fragment!r} never appeared in {path.name}")


def test_a_tap_in_the_bot_is_counted_by_the_web_app(system, browser: Browser, linked_person: TelegramPerson):
    approved = ("auth_logins_total", (("outcome", "approved"),))
    before = samples(system.web_url)
    started = browser.init(linked_person.phone)
    linked_person.tap(linked_person.wait_for_prompt(), 0)
    browser.wait_for_status(started["session_id"], "approved")
    after = samples(system.web_url)
    assert after[approved] - before.get(approved, 0.0) == 1
    assert after[("auth_approval_seconds_count", ())] >= 1
    assert linked_person.phone not in httpx.get(f"{system.web_url}/metrics").text


def test_metrics_sum_every_gunicorn_worker(system):
    key = ("http_requests_total", (("method", "GET"), ("route", "/healthz"), ("status", "200")))
    before = samples(system.web_url).get(key, 0.0)
    for _ in range(12):  # a new connection each: they spread over the workers
        assert httpx.get(f"{system.web_url}/healthz", headers={"Connection": "close"}).status_code == 200
    assert samples(system.web_url)[key] - before == 12


def test_the_request_id_reaches_the_web_and_worker_logs(system, browser: Browser, linked_person: TelegramPerson):
    request_id = f"e2e-{secrets.token_hex(6)}"
    response = browser.http.post(
        "/api/auth/init", json={"phone_number": linked_person.phone}, headers={**browser.headers, "X-Request-ID": request_id}
    )
    assert response.status_code == 201 and response.headers["X-Request-ID"] == request_id
    linked_person.wait_for_prompt()
    assert "POST /api/auth/init" in wait_for_line(system.log_dir / "web.log", f'" request_id={request_id}')  # access log
    assert "event=session_created" in wait_for_line(system.log_dir / "web.log", f"linked=True request_id={request_id}")
    # The worker's lines of the prompt task carry the id of the request that enqueued it.
    wait_for_line(system.log_dir / "worker.log", f"request_id={request_id}")
    worker_lines = (system.log_dir / "worker.log").read_text(errors="replace").splitlines()
    assert any("event=prompt_sent" in line and line.endswith(f"request_id={request_id}") for line in worker_lines)


def test_json_logs(system, person: TelegramPerson):
    url = system.start_web("web-json", LOG_FORMAT="json")
    request_id = f"json-{secrets.token_hex(6)}"
    response = httpx.post(f"{url}/api/auth/init", json={"phone_number": person.phone}, headers={"X-Request-ID": request_id})
    assert response.status_code == 201
    entry = json.loads(wait_for_line(system.log_dir / "web-json.log", request_id))
    assert entry["request_id"] == request_id and entry["event"] == "session_created"
    assert entry["logger"] == "dance_of_mind.events" and entry["level"] == "INFO"
    assert person.phone not in json.dumps(entry)
    # gunicorn's access line is JSON too, and names the request.
    access = json.loads(wait_for_line(system.log_dir / "web-json.log", f"request_id={request_id}"))
    assert access["logger"] == "gunicorn.access" and "POST /api/auth/init" in access["message"]
