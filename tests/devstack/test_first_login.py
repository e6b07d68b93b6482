"""The real `make run`: its banner's terminal instructions log a phone in, as printed, and `make doctor` checks it.

One stack per approval mode; in each, the printed commands log in a phone that is not linked yet
(the phone shares its contact when the bot asks), then the same phone, now linked.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from devstack import PROJECT_ROOT
from devstack.doctor import NOTHING_FOUND
from devstack.services import free_port
from tests.devstack.running import Running, clean_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not (PROJECT_ROOT / "botrunner" / "__main__.py").exists(), reason="the bot is not written yet"),
]
VENV = Path(sys.executable).parent.parent
# The printed commands run as printed; these options only keep make from reinstalling the venv.
MAKE = f"make -s -o {VENV}/.requirements-installed VENV={VENV}"


class Stack:
    """A running `make run` and what its banner printed."""

    def __init__(self, run: Running, state: Path, mode: str) -> None:
        self.run, self.state, self.mode = run, state, mode
        self.banner = run.output().split("Dance of Mind dev stack is up", 1)[1]
        self.web = re.search(r"Open first  (http://localhost:\d+)/ ", self.banner).group(1)

    def printed(self, pattern: str) -> str:
        """Return the one banner line that matches `pattern`, stripped."""
        lines = [line.strip() for line in self.banner.splitlines() if re.search(pattern, line)]
        assert len(lines) == 1, f"{pattern!r} in:\n{self.banner}"
        return lines[0]

    def sh(self, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a printed command in a shell, with this stack's state directory."""
        command = re.sub(r"^make ", MAKE + " ", command)
        return subprocess.run(["sh", "-c", command], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout,
                              env=clean_env(DEVSTACK_STATE_DIR=str(self.state)))


@pytest.fixture(scope="module", params=["match", "simple"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    mode = request.param
    state = tmp_path_factory.mktemp(f"state-{mode}")
    env = clean_env(PORT=str(free_port()), DEVSTACK_STATE_DIR=str(state), APPROVAL_MODE=mode)
    run = Running([sys.executable, "-m", "devstack", "run"], env, state / "out")
    try:
        run.wait_for("dev stack is up", 120)
        run.wait_for("=" * 72 + "\n", 10)  # the whole banner
        yield Stack(run, state, mode)
    finally:
        run.kill()


def _init(stack: Stack) -> dict:
    """Start a login with the banner's curl command, as printed."""
    first = stack.printed(r"curl -s -X POST .*/api/auth/init")
    second = stack.printed(r"-d '\{\"phone_number\"")
    result = stack.sh(first.removesuffix("\\").rstrip() + " " + second)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _phone(stack: Stack, login: dict) -> subprocess.CompletedProcess[str]:
    command = stack.printed(r"make phone .*PHONE_SCRIPT=")
    command = command.replace("<bot_url>", login["bot_url"]).replace("<match_code>", login.get("match_code", ""))
    assert "<" not in command, command
    return stack.sh(command)


def _status(stack: Stack, login: dict) -> dict:
    with httpx.Client(base_url=stack.web, timeout=30) as http:
        return http.get(f"/api/auth/status/{login['session_id']}", params={"wait": 20}).json()


def test_the_banner_lists_the_pages_and_the_limits(stack: Stack) -> None:
    assert stack.printed(r"Open first").startswith(f"Open first  {stack.web}/ ")
    assert "chat page" in stack.printed(r"^\s*Phone\s+http://127\.0\.0\.1:\d+/ ")
    assert stack.printed(r"API docs").endswith(f"{stack.web}/api/docs")
    script = "start <bot_url>; approve <match_code>" if stack.mode == "match" else "start <bot_url>; approve"
    assert stack.printed(r"make phone .*PHONE_SCRIPT=").endswith(f"PHONE_SCRIPT='{script}'")
    assert "60/minute" in stack.printed("RATE_LIMIT_INIT_PER_IP")
    assert "production defaults are stricter" in stack.banner
    with httpx.Client(base_url=stack.web, timeout=10) as http:
        assert http.get("/").status_code == 200 and http.get("/api/docs").status_code == 200
        # Email works offline (the catcher is the SMTP server); the sign-in by code waits for EMAIL_LOGIN=on.
        assert 'data-email="on" data-email-login="off"' in http.get("/").text
    inbox = re.search(r"^\s*Mail\s+(http://127\.0\.0\.1:\d+)/ ", stack.banner, re.MULTILINE)
    assert inbox, stack.banner  # no SMTP_URL: the mail catcher's inbox, linked
    assert httpx.get(f"{inbox.group(1)}/api/messages", timeout=10).json() == {"messages": []}


def test_the_printed_commands_log_in_an_unlinked_then_a_linked_phone(stack: Stack) -> None:
    unlinked = _init(stack)
    assert ("match_code" in unlinked) == (stack.mode == "match")
    first = _phone(stack, unlinked)
    assert first.returncode == 0, first.stdout + first.stderr + stack.run.output()[-3000:]
    assert "you: (shares own contact +79161234567)" in first.stdout
    answer = _status(stack, unlinked)
    assert answer["status"] == "approved" and answer["tokens"]["access_token"], answer

    linked = _init(stack)
    second = _phone(stack, linked)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "shares own contact" not in second.stdout
    tapped = re.findall(r"you: \(taps \[(.*)\]\)", second.stdout)
    assert len(tapped) == 1 and (stack.mode == "simple" or tapped == [linked["match_code"]]), second.stdout
    answer = _status(stack, linked)
    assert answer["status"] == "approved" and answer["tokens"]["access_token"], answer


def test_starting_again_and_again_meets_no_429(stack: Stack) -> None:
    with httpx.Client(base_url=stack.web, timeout=10) as http:
        codes = [http.post("/api/auth/init", json={"phone_number": "+79161230000"}).status_code for _ in range(8)]
    assert codes == [201] * 8  # production's defaults answer the 4th with 429


def test_make_doctor_checks_the_running_stack(stack: Stack) -> None:
    assert stat.S_IMODE((stack.state / "env").stat().st_mode) == 0o600
    assert "make doctor" in stack.printed("Check the stack")
    result = stack.sh("make doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checking the running `make run` stack" in result.stdout
    for check in ("postgres: reachable, every migration applied", "redis: reachable", "telegram token: valid",
                  "worker: 1 worker(s) answered", "all checks passed"):
        assert check in result.stdout, result.stdout


def test_once_the_stack_stops_make_doctor_says_none_runs(stack: Stack) -> None:
    os.kill(stack.run.proc.pid, signal.SIGINT)
    assert stack.run.proc.wait(60) == 0, stack.run.output()[-3000:]
    assert not (stack.state / "env").exists()
    result = stack.sh("make doctor")
    assert result.returncode != 0
    if not (PROJECT_ROOT / ".env").exists():  # else the doctor checks what .env configures
        assert NOTHING_FOUND in result.stderr
