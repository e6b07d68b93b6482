"""`make doctor`: the file `make run` leaves for it, and what it says when there is nothing to check."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import PROJECT_ROOT
from devstack.doctor import (
    NOTHING_FOUND,
    doctor_environment,
    main,
    remove_stack_file,
    running_stack,
    stack_file,
    write_stack_file,
)
from tests.devstack.running import STACK_VARIABLES, clean_env

STACK = {
    "DATABASE_URL": "postgresql://postgres@:5432/dance_of_mind?host=%2Ftmp%2Fit's",
    "REDIS_URL": "redis://127.0.0.1:40000/0",
    "TELEGRAM_BOT_TOKEN": "123:abc",
    "JWT_SECRET_KEY": "back\\slash and 'quotes'",
    "RATE_LIMIT_INIT_PER_PHONE": "30/10 minutes",
    "HOME": "/root",  # not the doctor's business: left out
}


@pytest.fixture(autouse=True)
def nothing_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in STACK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_stack_file_is_private_and_reads_back_exactly(tmp_path: Path) -> None:
    path = write_stack_file(STACK, tmp_path)
    assert path == stack_file(tmp_path) and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert running_stack(tmp_path) == {k: v for k, v in STACK.items() if k != "HOME"}
    remove_stack_file(tmp_path)
    assert not path.exists() and running_stack(tmp_path) is None


def test_a_file_left_by_a_killed_stack_is_ignored(tmp_path: Path) -> None:
    write_stack_file(STACK, tmp_path, pid=_dead_pid())
    assert running_stack(tmp_path) is None


def test_the_environment_and_dotenv_win_over_the_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_stack_file(STACK, tmp_path / "state")
    (tmp_path / ".env").write_text("REDIS_URL=redis://mine:6379/0\n")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "456:real")
    env, with_stack = doctor_environment(tmp_path, tmp_path / "state")
    assert with_stack
    assert env["REDIS_URL"] == "redis://mine:6379/0" and env["TELEGRAM_BOT_TOKEN"] == "456:real"
    assert env["DATABASE_URL"] == STACK["DATABASE_URL"]


def test_without_a_stack_what_is_configured_is_checked(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://db/app\n")
    env, with_stack = doctor_environment(tmp_path, tmp_path / "state")
    assert not with_stack and env["DATABASE_URL"] == "postgresql://db/app"


def test_no_stack_and_nothing_configured_is_said_plainly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_stack_file(STACK, tmp_path / "state", pid=_dead_pid())
    assert doctor_environment(tmp_path, tmp_path / "state") is None
    assert main(tmp_path, tmp_path / "state") == 1
    assert "no running `make run` stack found and nothing configured" in capsys.readouterr().err


@pytest.mark.skipif((PROJECT_ROOT / ".env").exists(), reason="the project's .env configures something")
def test_make_doctor_fails_with_the_message_when_there_is_nothing(tmp_path: Path) -> None:
    venv = Path(sys.executable).parent.parent
    result = subprocess.run(
        ["make", "-s", "-o", f"{venv}/.requirements-installed", "doctor", f"VENV={venv}"],
        cwd=PROJECT_ROOT, env=clean_env(DEVSTACK_STATE_DIR=str(tmp_path)), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert NOTHING_FOUND in result.stderr
