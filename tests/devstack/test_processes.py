"""ProcessGroup: prefixed output, exit detection, and a bounded stop."""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

from devstack.processes import ProcessGroup

IGNORES_SIGTERM = (
    "import signal, time, sys\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "while True: time.sleep(0.1)\n"
)


def _wait_for_text(path: Path, text: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_child_ignoring_sigterm_is_killed_within_the_bound(tmp_path: Path) -> None:
    group = ProcessGroup(log_dir=tmp_path)
    proc = group.start("stubborn", [sys.executable, "-c", IGNORES_SIGTERM])
    _wait_for_text(tmp_path / "stubborn.log", "ready")
    started = time.monotonic()
    group.stop(grace=1.0)
    elapsed = time.monotonic() - started
    assert proc.returncode == -9
    assert 0.9 <= elapsed < 4, elapsed


def test_grandchildren_in_the_group_are_stopped_too(tmp_path: Path) -> None:
    # The child starts a grandchild that ignores SIGTERM, then exits itself on SIGTERM.
    script = (
        "import subprocess, sys, time\n"
        f"g = subprocess.Popen([sys.executable, '-c', {IGNORES_SIGTERM!r}])\n"
        "print('grandchild', g.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    group = ProcessGroup(log_dir=tmp_path)
    group.start("parent", [sys.executable, "-c", script])
    _wait_for_text(tmp_path / "parent.log", "ready")
    grandchild = int((tmp_path / "parent.log").read_text().split("grandchild ")[1].split()[0])
    group.stop(grace=1.0)
    time.sleep(0.2)
    try:
        os.kill(grandchild, 0)
        state = Path(f"/proc/{grandchild}/stat").read_text().split()[2]
        assert state == "Z", "grandchild survived the stop"  # a zombie waiting for init is gone
    except ProcessLookupError:
        pass


def test_output_is_prefixed_by_name_without_colour_off_a_terminal() -> None:
    out = io.StringIO()
    group = ProcessGroup(stream=out)
    code = group.run("release", [sys.executable, "-c", "print('one'); print('two')"], timeout=20)
    assert code == 0
    assert out.getvalue().splitlines() == ["release | one", "release | two"]
    assert "\033[" not in out.getvalue()
    group.stop()


def test_colour_prefix_on_request() -> None:
    out = io.StringIO()
    group = ProcessGroup(stream=out, colour=True)
    group.run("web", [sys.executable, "-c", "print('hi')"], timeout=20)
    assert out.getvalue() == "\033[36mweb     | \033[0mhi\n"


def test_a_child_that_dies_is_reported_and_others_are_alive(tmp_path: Path) -> None:
    group = ProcessGroup(log_dir=tmp_path)
    group.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
    group.start("crasher", [sys.executable, "-c", "raise SystemExit(7)"])
    deadline = time.monotonic() + 10
    while group.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert group.exited() == ("crasher", 7)
    group.stop(grace=2)
    assert group.children["sleeper"].proc.returncode is not None


def test_run_reports_failure_and_is_not_counted_as_unexpected(tmp_path: Path) -> None:
    group = ProcessGroup(log_dir=tmp_path, env={**os.environ, "X": "from-env"})
    code = group.run("release", [sys.executable, "-c", "import os; print(os.environ['X']); raise SystemExit(2)"], 20)
    assert code == 2
    assert group.alive()
    assert "from-env" in (tmp_path / "release.log").read_text()
