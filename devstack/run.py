"""`python -m devstack run`: stand-ins, migrations, then every Procfile process, until Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import IO

from devstack import PROJECT_ROOT, STATE_DIR
from devstack.processes import ProcessGroup
from devstack.procfile import read_procfile, resolve_command
from devstack.services import StartupError, mask_url
from devstack.stack import Stack, start_stack

RELEASE_TIMEOUT = 120.0
WEB_READY_TIMEOUT = 30.0
BANNER_QUIET = 1.0  # seconds without child output before the banner is printed
BANNER_MAX_DELAY = 5.0
SAMPLE_PHONE = "+79161234567"
DEFAULT_EMULATOR_URL = "http://127.0.0.1:8081"


class Stop(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM; BaseException so no `except Exception` eats it."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signum)


def banner(stack: Stack, procs: list[str], state_dir: Path = STATE_DIR) -> str:
    """Describe what runs where, what to open and how to play the Telegram user."""
    web = f"http://127.0.0.1:{stack.web_port}"
    lines = ["", "=" * 72, "Dance of Mind dev stack is up", ""]
    for s in stack.services:
        kind = "embedded" if s.embedded else "configured"
        note = f"  ({s.note})" if s.note else ""
        lines.append(f"  {s.name:<9} {kind:<11} {mask_url(s.url)}{note}")
    lines.append(f"  {'processes':<9} {'':<11} {', '.join(procs)}")
    lines += [
        "",
        f"  API         {web}/api/auth/...   (see README.md, section HTTP API)",
        f"  Health      {web}/healthz   {web}/readyz",
        "",
        "  Start a login:",
        f"    curl -s -X POST {web}/api/auth/init -H 'Content-Type: application/json' \\",
        f"         -d '{{\"phone_number\": \"{SAMPLE_PHONE}\"}}'",
    ]
    emulator = next((s.url for s in stack.services if s.name == "telegram" and s.embedded), None)
    if emulator:
        where = "" if emulator == DEFAULT_EMULATOR_URL else f" TELEGRAM_API_URL={emulator}"
        lines += [
            "",
            f"  Play the Telegram user in your browser: {emulator}/",
            "",
            "  Or in another terminal:",
            f"    make phone{where} PHONE_NUMBER={SAMPLE_PHONE}",
            "    then type: start <bot_url from the init answer>, contact, tap 1",
            f"    or at once: make phone{where} PHONE_NUMBER={SAMPLE_PHONE} PHONE_SCRIPT='start <bot_url>; tap 1'",
        ]
    lines += ["", f"  Logs of the stand-ins: {state_dir}/   Stop everything: Ctrl-C", "=" * 72, ""]
    return "\n".join(lines)


def _web_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def run(root: Path = PROJECT_ROOT, state_dir: Path = STATE_DIR, out: IO[str] | None = None) -> int:
    """Run the whole stack in the foreground; return 0 after Ctrl-C/SIGTERM, 1 on a failure."""
    out = out or sys.stdout
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    group: ProcessGroup | None = None
    status = 0
    with contextlib.ExitStack() as standins:
        try:
            procfile = read_procfile(root / "Procfile")
            stack = start_stack(standins, root, state_dir)
            group = ProcessGroup(cwd=root, env=stack.env, stream=out)
            if _release(group, procfile, stack):
                names = [name for name in procfile if name != "release"]
                for name in names:
                    group.start(name, resolve_command(procfile[name], stack.env))
                status = _watch(group, stack, names, state_dir)
            else:
                status = 1
        except Stop:
            status = 0
        except StartupError as exc:
            _say(sys.stderr, str(exc))
            status = 1
        finally:
            # A second Ctrl-C must not cut the cleanup short: it is bounded anyway.
            for sig in previous:
                signal.signal(sig, signal.SIG_IGN)
            if group is not None:
                group.say("stopping processes...")
                group.stop()
            _say(out, "stopping stand-ins...")
        # Leaving the ExitStack stops the stand-ins, after the children that use them.
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    _say(out, "stopped")
    return status


def _say(out: IO[str], message: str) -> None:
    print(f"{'devstack':<8}| {message}", file=out, flush=True)


def _release(group: ProcessGroup, procfile: dict[str, str], stack: Stack) -> bool:
    """Run the Procfile's release command (migrations); tell whether it succeeded."""
    if "release" not in procfile:
        return True
    group.say("running release (migrations): " + procfile["release"])
    code = group.run("release", resolve_command(procfile["release"], stack.env), RELEASE_TIMEOUT)
    if code != 0:
        group.say(f"release failed with exit code {code}; nothing else was started (see its output above)")
    return code == 0


def _watch(group: ProcessGroup, stack: Stack, names: list[str], state_dir: Path) -> int:
    """Print the banner once the web answers, then wait until a child dies (1) or a signal (Stop)."""
    deadline = time.monotonic() + WEB_READY_TIMEOUT
    answered_at: float | None = None
    shown = False
    while True:
        died = group.exited()
        if died is not None:
            name, code = died
            group.say(f"{name} exited unexpectedly with code {code}; stopping everything")
            return 1
        now = time.monotonic()
        if not shown and answered_at is None and _web_answers(stack.web_port):
            answered_at = now
        if not shown and answered_at is None and now > deadline:
            group.say(f"web does not answer /healthz after {WEB_READY_TIMEOUT:g} s; still waiting on it")
            answered_at = now
        # Let the startup chatter of worker and bot pass first, so the banner stays on screen.
        if not shown and answered_at is not None and (now - group.last_output > BANNER_QUIET
                                                       or now - answered_at > BANNER_MAX_DELAY):
            group.say(banner(stack, names, state_dir), prefix="")
            shown = True
        time.sleep(0.2)


def migrate(root: Path = PROJECT_ROOT, state_dir: Path = STATE_DIR) -> int:
    """Apply the migrations (the Procfile's release command), with stand-ins where needed."""
    with contextlib.ExitStack() as standins:
        try:
            stack = start_stack(standins, root, state_dir, telegram=False)
        except StartupError as exc:
            _say(sys.stderr, str(exc))
            return 1
        group = ProcessGroup(cwd=root, env=stack.env)
        command = read_procfile(root / "Procfile")["release"]
        code = group.run("release", resolve_command(command, stack.env), RELEASE_TIMEOUT)
        if code != 0:
            group.say(f"release failed with exit code {code}")
        return code
