"""Run named subprocesses side by side, with prefixed output, and stop them all reliably."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Mapping, Sequence

COLOURS = ("36", "33", "32", "35", "34", "31")  # cyan, yellow, green, magenta, blue, red
NAME_WIDTH = 8  # fits "release" and "devstack", so the "|" columns line up


@dataclass
class Child:
    """One started process and what reads its output."""

    name: str
    proc: subprocess.Popen[bytes]
    reader: threading.Thread | None = None
    log_path: Path | None = None
    expected_exit: bool = field(default=False)


class ProcessGroup:
    """Named children, each in its own session so that Ctrl-C reaches only us, not them.

    Output goes either to `stream` with a `name    | ` prefix per line (coloured on a
    terminal), or, when `log_dir` is given, to `log_dir/<name>.log` (used by tests).
    """

    def __init__(
        self,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        stream: IO[str] | None = None,
        log_dir: Path | None = None,
        colour: bool | None = None,
    ) -> None:
        self.cwd = Path(cwd) if cwd else None
        self.env = dict(env) if env is not None else dict(os.environ)
        self.stream = stream or sys.stdout
        self.log_dir = log_dir
        self.colour = colour if colour is not None else _wants_colour(self.stream)
        self.children: dict[str, Child] = {}
        self.last_output = time.monotonic()  # when a child last printed a line
        self._write_lock = threading.Lock()

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start `argv` as child `name` (env: the group's env, updated with `env`)."""
        if name in self.children and self.children[name].proc.poll() is None:
            raise ValueError(f"a process named {name!r} is already running")
        child_env = {**self.env, **(env or {})}
        log_path = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{name}.log"
            with open(log_path, "ab") as log:
                proc = self._popen(argv, child_env, log)
            self.children[name] = Child(name, proc, log_path=log_path)
            return proc
        proc = self._popen(argv, child_env, subprocess.PIPE)
        reader = threading.Thread(target=self._pump, args=(name, proc), name=f"out-{name}", daemon=True)
        self.children[name] = Child(name, proc, reader=reader)
        reader.start()
        return proc

    def _popen(self, argv: Sequence[str], env: dict[str, str], stdout: int | IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            list(argv),
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            # Own session: a terminal's Ctrl-C goes to us only, and we stop children in order.
            start_new_session=True,
        )

    def _prefix(self, name: str) -> str:
        label = f"{name:<{NAME_WIDTH}}| "
        if not self.colour:
            return label
        colour = COLOURS[list(self.children).index(name) % len(COLOURS)] if name in self.children else "37"
        return f"\033[{colour}m{label}\033[0m"

    def _pump(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        prefix = self._prefix(name)
        for raw in iter(proc.stdout.readline, b""):
            self.last_output = time.monotonic()
            self.say(raw.decode("utf-8", errors="replace").rstrip("\r\n"), prefix=prefix)
        proc.stdout.close()

    def say(self, line: str, name: str = "devstack", prefix: str | None = None) -> None:
        """Write one line to the stream with a name prefix, never interleaved with others."""
        text = (prefix if prefix is not None else self._prefix(name)) + line + "\n"
        with self._write_lock:
            try:
                self.stream.write(text)
                self.stream.flush()
            except (ValueError, OSError):  # stream closed (e.g. the terminal went away)
                pass

    def run(self, name: str, argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> int:
        """Run `argv` to completion as child `name`; return its exit code (stopped after `timeout`)."""
        proc = self.start(name, argv, env)
        self.children[name].expected_exit = True
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._stop_children([self.children[name]], grace=5)
            self.say(f"{name} did not finish within {timeout:g} s; stopped it")
            return proc.returncode if proc.returncode is not None else -signal.SIGKILL
        finally:
            self._join(self.children[name])

    def alive(self) -> bool:
        """Tell whether every long-running child is still running."""
        return self.exited() is None

    def exited(self) -> tuple[str, int] | None:
        """Return (name, exit code) of a long-running child that has exited, or None."""
        for child in self.children.values():
            if not child.expected_exit and child.proc.poll() is not None:
                return child.name, child.proc.returncode
        return None

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM every child's process group, wait up to `grace` seconds, then SIGKILL."""
        self._stop_children(list(self.children.values()), grace)
        for child in self.children.values():
            self._join(child)

    def _stop_children(self, children: list[Child], grace: float) -> None:
        for child in children:
            child.expected_exit = True
            _signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in children:
            try:
                child.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for child in children:
            # Also reaches grandchildren left behind by a leader that already exited.
            _signal_group(child.proc, signal.SIGKILL)
            try:
                child.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.say(f"{child.name} (pid {child.proc.pid}) survived SIGKILL")

    def _join(self, child: Child) -> None:
        if child.reader is not None:
            child.reader.join(2)  # bounded: a grandchild may still hold the pipe open


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send `sig` to the process group led by `proc` (its pid: it called setsid)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already


def _wants_colour(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
