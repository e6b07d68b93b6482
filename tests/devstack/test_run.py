"""`python -m devstack run` end to end: on a toy Procfile, and on the real project when it exists."""

from __future__ import annotations

import os
import signal
import stat
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from devstack import PROJECT_ROOT
from devstack.services import free_port
from tests.devstack.running import Running, clean_env

RUN = "import sys; from pathlib import Path; from devstack.run import run; sys.exit(run(Path(sys.argv[1]), Path(sys.argv[2])))"
TOY_PROCFILE = """\
release: python -c "print('migrated')"
web: python -m http.server $PORT --bind 127.0.0.1
worker: python -c "import os, time; print('env', os.environ['APP_ENV'], os.environ['DATABASE_URL'], os.environ['REDIS_URL'], len(os.environ['JWT_SECRET_KEY']), flush=True); time.sleep(600)"
"""
PROCESS_ENTRY_POINTS = ("wsgi.py", "tasks/__init__.py", "botrunner/__main__.py")


def _processes_with(text: str) -> list[int]:
    """Return the pids whose command line contains `text`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                found.append(int(proc.name))
        except OSError:
            pass
    return found


@pytest.fixture()
def toy_root(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "Procfile").write_text(TOY_PROCFILE)
    (root / "healthz").write_text('{"ok": true}')  # http.server serves it as GET /healthz
    return root


@pytest.fixture()
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for run in started:
        run.kill()


def test_toy_stack_starts_embedded_services_and_stops_on_sigint(toy_root: Path, tmp_path: Path,
                                                                  running: list[Running]) -> None:
    state = tmp_path / "state"
    port = free_port()
    run = Running([sys.executable, "-c", RUN, str(toy_root), str(state)], clean_env(PORT=str(port)), tmp_path / "out")
    running.append(run)
    run.wait_for("dev stack is up", 60)
    out = run.output()
    assert "release | migrated" in out
    assert "env development postgresql://postgres@:5432/dance_of_mind?host=" in out
    assert "redis://127.0.0.1:" in out and " 64" in out.split("env development")[1].splitlines()[0]
    assert "postgres  embedded" in out and "telegram  embedded" in out
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        assert response.status == 200
    redis_port = int(out.split("redis://127.0.0.1:")[1].split("/")[0])
    assert _processes_with(f"redis-server 127.0.0.1:{redis_port}")
    stack_file = state / "env"  # what `make doctor` reads while the stack is up
    assert stat.S_IMODE(stack_file.stat().st_mode) == 0o600
    assert f"REDIS_URL='redis://127.0.0.1:{redis_port}/0'" in stack_file.read_text()

    started = time.monotonic()
    os.kill(run.proc.pid, signal.SIGINT)
    assert run.proc.wait(30) == 0, run.output()
    assert time.monotonic() - started < 20
    assert "devstack| stopped" in run.output()
    assert not _processes_with(f"redis-server 127.0.0.1:{redis_port}")  # the stand-ins are gone too
    assert not (state / "postgres" / "postmaster.pid").exists()
    assert not stack_file.exists()
    assert (state / "jwt-secret").exists()


def _configured_env(port: int) -> dict[str, str]:
    # Everything "configured": no stand-in starts, and the banner must mask the password.
    return clean_env(PORT=str(port), DATABASE_URL="postgresql://app:hunter2@127.0.0.1:1/app",
                      REDIS_URL="redis://127.0.0.1:1/0", TELEGRAM_BOT_TOKEN="1:x")


def test_a_failing_release_stops_before_anything_starts(toy_root: Path, tmp_path: Path, running: list[Running]) -> None:
    (toy_root / "Procfile").write_text(TOY_PROCFILE.replace("print('migrated')", "raise SystemExit(3)"))
    run = Running([sys.executable, "-c", RUN, str(toy_root), str(tmp_path / "s")], _configured_env(free_port()),
                  tmp_path / "out")
    running.append(run)
    assert run.proc.wait(30) == 1
    assert "release failed with exit code 3" in run.output()
    assert "env " not in run.output()


def test_a_child_that_dies_stops_everything(toy_root: Path, tmp_path: Path, running: list[Running]) -> None:
    procfile = TOY_PROCFILE + "bot: python -c \"import time; time.sleep(3); raise SystemExit(4)\"\n"
    (toy_root / "Procfile").write_text(procfile)
    run = Running([sys.executable, "-c", RUN, str(toy_root), str(tmp_path / "s")], _configured_env(free_port()),
                  tmp_path / "out")
    running.append(run)
    assert run.proc.wait(30) == 1, run.output()
    out = run.output()
    assert "bot exited unexpectedly with code 4; stopping everything" in out
    assert "postgres  configured  postgresql://app:***@127.0.0.1:1/app" in out  # the banner masks it


@pytest.mark.e2e
@pytest.mark.skipif(not all((PROJECT_ROOT / p).exists() for p in PROCESS_ENTRY_POINTS),
                    reason="the Procfile's processes (wsgi.py, tasks/, botrunner/__main__.py) are not all written yet")
def test_make_run_smoke(tmp_path: Path, running: list[Running]) -> None:
    """The real stack: stand-ins, migrations, web/worker/bot; /healthz answers; Ctrl-C exits 0."""
    port = free_port()
    env = clean_env(PORT=str(port), DEVSTACK_STATE_DIR=str(tmp_path / "state"))
    run = Running([sys.executable, "-m", "devstack", "run"], env, tmp_path / "out")
    running.append(run)
    run.wait_for("dev stack is up", 90)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        assert response.status == 200
    time.sleep(2)  # let worker and bot finish connecting: a crash there must show up now
    assert run.proc.poll() is None, run.output()
    os.kill(run.proc.pid, signal.SIGINT)
    assert run.proc.wait(40) == 0, run.output()
