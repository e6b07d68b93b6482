"""`python -m telegram_emulator` announces its URL, serves, and stops cleanly on SIGTERM."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_cli_serves_until_terminated() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "telegram_emulator", "--host", "127.0.0.1", "--port", "0",
         "--bot-username", "cli_bot", "--bot-name", "CLI Bot"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("telegram emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[-1]
        assert httpx.get(f"{url}/control/health").json() == {"ok": True}
        me = httpx.get(f"{url}/bot42:abcdefghijklmnopqrstuvwxyz/getMe").json()["result"]
        assert (me["id"], me["username"], me["first_name"]) == (42, "cli_bot", "CLI Bot")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=5)
    assert process.returncode == 0, stderr
    assert "GET /control/health" not in stderr  # Access lines are DEBUG only.


def test_calls_on_a_kept_alive_connection_are_answered_without_nagles_delay() -> None:
    # Without TCP_NODELAY each answer's body waited ~40 ms for the client's delayed ACK.
    process = subprocess.Popen(
        [sys.executable, "-m", "telegram_emulator", "--host", "127.0.0.1", "--port", "0"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        with httpx.Client(base_url=url) as client:
            client.post("/bot42:abcdefghijklmnopqrstuvwxyz/getMe")  # the connection, once
            took = []
            for _ in range(15):
                started = time.perf_counter()
                assert client.post("/bot42:abcdefghijklmnopqrstuvwxyz/getMe", json={}).status_code == 200
                took.append(time.perf_counter() - started)
    finally:
        process.terminate()
        process.communicate(timeout=5)
    assert statistics.median(took) < 0.02, took
