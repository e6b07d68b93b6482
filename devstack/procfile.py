"""Read the Procfile, so that `make run` starts exactly what production runs."""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path
from typing import Mapping

from devstack import PROJECT_ROOT

PROCFILE = PROJECT_ROOT / "Procfile"
ENTRY = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")


def parse_procfile(text: str) -> dict[str, str]:
    """Return the Procfile's entries as {name: command}, in file order."""
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = ENTRY.match(stripped)
        if not match:
            raise ValueError(f"Procfile line {number} is not 'name: command': {line!r}")
        name, command = match.groups()
        if name in entries:
            raise ValueError(f"Procfile names {name!r} twice")
        entries[name] = command.strip()
    return entries


def read_procfile(path: Path = PROCFILE) -> dict[str, str]:
    """Read and parse the Procfile at `path`."""
    return parse_procfile(path.read_text(encoding="utf-8"))


def resolve_command(command: str, env: Mapping[str, str] | None = None, bin_dir: Path | None = None) -> list[str]:
    """Split a Procfile command into argv, using this venv's python and its console scripts.

    `$VAR` and `${VAR}` are expanded from `env` (as a Procfile shell would); a first word that
    is `python` becomes sys.executable, and one found in `bin_dir` (default: the directory of
    sys.executable) becomes that file, so no activated venv or PATH is needed.
    """
    env = os.environ if env is None else env
    bin_dir = bin_dir or Path(sys.executable).parent
    argv = [_expand(word, env) for word in shlex.split(command)]
    if not argv:
        raise ValueError("empty command")
    if argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    elif "/" not in argv[0] and (bin_dir / argv[0]).exists():
        argv[0] = str(bin_dir / argv[0])
    return argv


def _expand(word: str, env: Mapping[str, str]) -> str:
    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", lambda m: env.get(m.group(1) or m.group(2), ""), word)
