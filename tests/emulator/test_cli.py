"""`python -m telegram_emulator` announces its URL, serves, and stops cleanly on SIGTERM."""

from __future__ import annotations

import subprocess
import sys
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
