"""`python -m devstack run`: stand-ins, migrations, then every Procfile process, until Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import IO, Mapping

from core.settings import Settings, from_environ
from devstack import PROJECT_ROOT, STATE_DIR
from devstack.doctor import remove_stack_file, write_stack_file
from devstack.processes import ProcessGroup
from devstack.procfile import read_procfile, resolve_command
from devstack.services import StartupError, mask_url
from devstack.stack import DEVELOPMENT_LIMITS, Stack, start_stack

RELEASE_TIMEOUT = 120.0
WEB_READY_TIMEOUT = 30.0
BANNER_QUIET = 1.0  # seconds without child output before the banner is printed
BANNER_MAX_DELAY = 5.0
SAMPLE_PHONE = "+79161234567"
DEFAULT_EMULATOR_URL = "http://127.0.0.1:8081"
# What each of `make run`'s development limits (devstack.stack.DEVELOPMENT_LIMITS) limits.
LIMIT_MEANINGS = {
    "RATE_LIMIT_INIT_PER_IP": "logins started per client address",
    "RATE_LIMIT_INIT_PER_PHONE": "logins started per phone and client address",
    "PROMPT_BUDGET_PER_PHONE": "prompts one phone receives, all clients together",
    "MATCH_COOLDOWN_SECONDS": "seconds without prompts after a wrong number",
    "RATE_LIMIT_PASSKEY_PER_IP": "passkey options and verify calls per client address",
}


class Stop(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM; BaseException so no `except Exception` eats it."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signum)


def banner(stack: Stack, procs: list[str], state_dir: Path = STATE_DIR) -> str:
    """Describe what runs where, what to open first, how to log in from a terminal, and the limits."""
    # localhost, not 127.0.0.1: passkeys need a secure context and a domain as their RP id.
    web = f"http://localhost:{stack.web_port}"
    lines = ["", "=" * 72, "Dance of Mind dev stack is up", ""]
    for s in stack.services:
        kind = "embedded" if s.embedded else "configured"
        note = f"  ({s.note})" if s.note else ""
        lines.append(f"  {s.name:<9} {kind:<11} {mask_url(s.url)}{note}")
    lines.append(f"  {'processes':<9} {'':<11} {', '.join(procs)}")
    emulator = next((s.url for s in stack.services if s.name == "telegram" and s.embedded), None)
    lines += ["", f"  Open first  {web}/   the demo login page: type a phone number, press Start"]
    if emulator:
        lines.append(f"  Phone       {emulator}/   the Telegram emulator's chat page: you are the Telegram user")
    inbox = next((s.url for s in stack.services if s.name == "mail" and s.embedded), None)
    if inbox:
        lines.append(f"  Mail        {inbox}/   the mail catcher's inbox: every email the worker sends")
    if from_environ(stack.env).email_login_enabled:  # the demo page's own test (webapp/demo.py)
        lines.append("  Email code  on: the demo page also signs in with a code mailed to a confirmed address"
                     " (EMAIL_LOGIN=on)")
    lines += [
        f"  API docs    {web}/api/docs",
        f"  Health      {web}/healthz   {web}/readyz",
        "",
        *_terminal_login(web, emulator, _approval_mode(stack.env)),
        "",
        *_limits(stack.env),
        "",
        f"  Check the stack: make doctor   Logs of the stand-ins: {state_dir}/   Stop everything: Ctrl-C",
        "=" * 72,
        "",
    ]
    return "\n".join(lines)


def _approval_mode(env: Mapping[str, str]) -> str:
    return (env.get("APPROVAL_MODE") or Settings().approval_mode).strip().lower()


def _terminal_login(web: str, emulator: str | None, mode: str) -> list[str]:
    """Return the banner's steps to log in from a terminal, written for this approval mode."""
    match = mode == "match"
    how = "tap the number the website shows" if match else "tap Approve"
    phone = f"make phone{'' if emulator == DEFAULT_EMULATOR_URL else f' TELEGRAM_API_URL={emulator}'}"
    lines = [
        f"  Or log in from a terminal (APPROVAL_MODE={mode}: {how}):",
        "    1. start a login (the website's part):",
        f"       curl -s -X POST {web}/api/auth/init -H 'Content-Type: application/json' \\",
        f"            -d '{{\"phone_number\": \"{SAMPLE_PHONE}\"}}'",
    ]
    if emulator:
        script = "start <bot_url>; approve <match_code>" if match else "start <bot_url>; approve"
        answer = "bot_url and match_code" if match else "bot_url"
        lines += [
            f"    2. in another terminal, be the phone ({answer} from that answer; it links the phone if needed):",
            f"       {phone} PHONE_NUMBER={SAMPLE_PHONE} PHONE_SCRIPT='{script}'",
        ]
    else:
        lines.append("    2. open bot_url from that answer in Telegram, share your contact if the bot asks, and approve")
    lines += [
        "    3. pick up the tokens (once):",
        f"       curl -s {web}/api/auth/status/<session_id>",
    ]
    if emulator:
        lines.append(f"    A phone to type into: {phone} PHONE_NUMBER={SAMPLE_PHONE}   (then: help)")
    return lines


def _limits(env: Mapping[str, str]) -> list[str]:
    """Return the banner's lines on the limits in force, each beside production's default."""
    production = Settings()
    lines = ["  Limits in force (`make run` loosens them where you set none; production defaults are stricter):"]
    for name in DEVELOPMENT_LIMITS:
        default = getattr(production, name.lower())
        value = env.get(name) or str(default)
        lines.append(f"    {name:<26} {value:<14} {LIMIT_MEANINGS[name]} (production: {default})")
    return lines


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
            remove_stack_file(state_dir)
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
            write_stack_file(stack.env, state_dir)  # for `make doctor`, until the stack stops
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
