"""The `web` process as deployed: gunicorn with gunicorn.conf.py, a real broker, a real socket."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
import redis

import jobs
from core import auth_sessions, db, request_ids
from devstack import PROJECT_ROOT
from webapp.rate_limits import POLL_SCRIPT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving_gunicorn(
    database_url: str, redis_url: str, log_path: Path, **overrides: str
) -> Iterator[str]:
    """Run `gunicorn wsgi:app` as the Procfile does until the block ends; yield its base URL."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TELEGRAM_BOT_USERNAME": "dom_test_bot",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "RATE_LIMIT_INIT_PER_IP": "100/minute",
        **overrides,
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "wsgi:app"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{base_url}/healthz", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


@pytest.fixture
def gunicorn(database_url: str, redis_url: str, clean_tables: None, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Run `gunicorn wsgi:app` as the Procfile does; yield its base URL and its log file."""
    log_path = tmp_path / "gunicorn.log"
    with serving_gunicorn(database_url, redis_url, log_path) as base_url:
        yield base_url, log_path


def request(base_url: str, method: str, path: str, body: bytes | None = None, chunked: bool = False) -> tuple[int, dict]:
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        headers = {"Content-Type": "application/json"}
        if chunked and body is not None:
            chunks = (body[i : i + 1000] for i in range(0, len(body), 1000))
            conn.request(method, path, body=chunks, headers=headers, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def test_gunicorn_serves_the_api_and_enqueues_on_the_real_redis(gunicorn, redis_url, database_url):
    base_url, log_path = gunicorn
    broker = redis.Redis.from_url(redis_url)
    broker.delete("celery", jobs.PROMPT_QUEUE_KEY)
    try:
        status, body = request(base_url, "POST", "/api/auth/init", json.dumps({"phone_number": "+79161234567"}).encode())
        assert status == 201, body
        # The prompt goes on the prompt queue; no Celery message, no countdown held per login.
        [queued] = [json.loads(raw) for raw in broker.lrange(jobs.PROMPT_QUEUE_KEY, 0, -1)]
        assert broker.llen("celery") == 0
        status, polled = request(base_url, "GET", f"/api/auth/status/{body['session_id']}")
        assert (status, polled["status"]) == (200, "pending")
        conn = db.connect(database_url)
        try:
            session = auth_sessions.find_by_session_id(conn, body["session_id"])
        finally:
            conn.close()
        assert queued == {"session": str(session["id"]), "request_id": queued["request_id"]}
        assert request_ids.VALID.fullmatch(queued["request_id"])
    finally:
        broker.delete("celery", jobs.PROMPT_QUEUE_KEY)
        broker.close()

    # The access log names the request but never the session id (a bearer secret).
    time.sleep(0.2)
    log = log_path.read_text()
    assert "GET /api/auth/status/*** HTTP/1.1" in log
    assert body["session_id"] not in log


def test_gunicorn_answers_oversized_bodies_with_json_413(gunicorn):
    base_url, _ = gunicorn
    payload = json.dumps({"phone_number": "+79161234567"}).encode() + b" " * 20_000
    assert request(base_url, "POST", "/api/auth/init", payload) == (
        413,
        {"error": {"code": "payload_too_large", "message": "The request body is too large."}},
    )
    status, body = request(base_url, "POST", "/api/auth/init", payload, chunked=True)
    assert (status, body["error"]["code"]) == (413, "payload_too_large")


def test_the_first_requests_of_a_fresh_worker_all_answer_when_they_arrive_together(gunicorn):
    # Seen hanging a worker: its first requests built a shared Redis pool under a lock taken
    # before gevent patched threading (a real lock), and the build switched greenlets.
    base_url, log_path = gunicorn
    phones = [f"+7916{n:07d}" for n in range(1_000_000, 1_000_024)]

    def init(phone: str) -> int:
        status, _ = request(base_url, "POST", "/api/auth/init", json.dumps({"phone_number": phone}).encode())
        return status

    with ThreadPoolExecutor(max_workers=len(phones)) as pool:
        statuses = list(pool.map(init, phones, timeout=30))
    assert statuses == [201] * len(phones), log_path.read_text()[-3000:]


def test_a_gevent_workers_concurrent_status_polls_share_one_redis_connection(gunicorn, redis_url):
    # The hot path's EVALSHA of every request of a worker goes down one pipelined connection
    # (webapp/redis_multiplex.py), where pooled connections would take one per concurrent request.
    base_url, log_path = gunicorn
    client = redis.Redis.from_url(redis_url)
    # Loaded beforehand: a first NOSCRIPT would load it through a pooled connection.
    poll_script_sha = client.script_load(POLL_SCRIPT)
    session_ids = []
    for n in range(20):
        status, body = request(base_url, "POST", "/api/auth/init", json.dumps({"phone_number": f"+7916200{n:04d}"}).encode())
        assert status == 201, body
        session_ids.append(body["session_id"])

    def poll(session_id: str) -> int:
        return request(base_url, "GET", f"/api/auth/status/{session_id}")[0]

    senders: list[tuple[str, str]] = []
    with client.monitor() as monitor:
        watcher = ThreadPoolExecutor(max_workers=1)

        def watch() -> None:
            while len(senders) < len(session_ids):
                command = monitor.next_command()
                if command["command"].startswith(f"EVALSHA {poll_script_sha}"):
                    senders.append((command["client_address"], command["client_port"]))

        watching = watcher.submit(watch)
        with ThreadPoolExecutor(max_workers=len(session_ids)) as pool:
            assert list(pool.map(poll, session_ids, timeout=30)) == [200] * len(session_ids)
        watching.result(timeout=10)
        watcher.shutdown()
    assert len(senders) == len(session_ids)
    assert len(set(senders)) == 1, (set(senders), log_path.read_text()[-2000:])


def with_gunicorn_config(script: str) -> list[str]:
    """Run `script` in a child process after loading gunicorn.conf.py as `config`; return its output's words."""
    prelude = "import runpy, sys\nconfig = runpy.run_path('gunicorn.conf.py')\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_gunicorns_master_does_not_import_the_app():
    # Modules a gevent worker inherits from the master keep the master's real thread locks.
    assert with_gunicorn_config(
        "from gunicorn.util import load_class\n"
        "load_class(config['logger_class'], section='gunicorn.loggers')\n"
        "config['on_starting'](None)\n"
        "ours = sorted(m for m in sys.modules if m.split('.')[0] in ('webapp', 'tasks', 'botrunner', 'wsgi'))\n"
        "print(ours, 'core.redis_client' in sys.modules, 'core.db' in sys.modules)\n"
    ) == ["[]", "False", "False"]


def test_a_gevent_worker_calls_the_flask_apps_wsgi_app_directly():
    assert with_gunicorn_config(
        "from flask import Flask\n"
        "app = Flask('probe')\n"
        "gevent_worker = type('GeventWorker', (), {'__module__': 'gunicorn.workers.ggevent'})()\n"
        "gevent_worker.wsgi = app\n"
        "config['post_worker_init'](gevent_worker)\n"
        "plain = lambda environ, start_response: []\n"
        "other_worker = type('SyncWorker', (), {'__module__': 'gunicorn.workers.sync'})()\n"
        "other_worker.wsgi = app\n"
        "config['post_worker_init'](other_worker)\n"
        "print(gevent_worker.wsgi == app.wsgi_app, other_worker.wsgi is app,\n"
        "      config['direct_wsgi_callable'](plain) is plain)\n"
    ) == ["True", "True", "True"]


def test_waiting_polls_are_capped_across_the_gevent_workers_of_gunicorn(database_url, redis_url, clean_tables, tmp_path):
    # Two workers: whichever one each poll lands on, the cap is one count in Redis, not one per worker.
    for key in redis.Redis.from_url(redis_url).scan_iter("waiting-polls:*"):
        redis.Redis.from_url(redis_url).delete(key)
    overrides = {"WEB_CONCURRENCY": "2", "MAX_WAITING_POLLS_PER_CLIENT": "4", "RATE_LIMIT_POLL_BURST": "1000"}
    with serving_gunicorn(database_url, redis_url, tmp_path / "gunicorn.log", **overrides) as base_url:
        session_ids = []
        for n in range(5):
            status, body = request(base_url, "POST", "/api/auth/init", json.dumps({"phone_number": f"+7916123450{n}"}).encode())
            assert status == 201, body
            session_ids.append(body["session_id"])
        redis.Redis.from_url(redis_url).delete("celery")  # their expiry tasks: no worker here

        def poll(session_id: str, wait: int) -> tuple[int, dict, float]:
            started = time.monotonic()
            status, body = request(base_url, "GET", f"/api/auth/status/{session_id}?wait={wait}")
            return status, body, time.monotonic() - started

        with ThreadPoolExecutor(max_workers=8) as pool:
            holding = [pool.submit(poll, session_id, 3) for session_id in session_ids[:4]]
            slots = redis.Redis.from_url(redis_url)
            deadline = time.monotonic() + 10
            while slots.zcard("waiting-polls:client:127.0.0.1") < 4:
                assert time.monotonic() < deadline, "the four polls never waited"
                time.sleep(0.05)
            status, body, seconds = poll(session_ids[4], 3)
            assert (status, body["error"]["code"]) == (429, "rate_limited") and seconds < 1
            assert [future.result()[0] for future in holding] == [200] * 4
        # The four answered `pending` after their wait and gave their slots back.
        assert slots.zcard("waiting-polls:client:127.0.0.1") == 0
        assert poll(session_ids[4], 1)[0] == 200
