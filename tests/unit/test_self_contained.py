"""The repository stands alone: a user's clone has nothing beside it, so nothing may point outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Files that run or configure something; prose (README, docs) may name other projects freely.
CHECKED_SUFFIXES = {".py", ".sh", ".ini", ".cfg", ".toml", ".js", ".html", ".txt", ".json"}
CHECKED_NAMES = {"Makefile", "Procfile", "run", ".env.example"}
# A path climbing out of the project root, or the reading-material folder beside it.
OUTSIDE = re.compile(r"""\.\./shared|shared/telegram-bot-api-spec|["']shared["']\s*/|parent\s*/\s*["']shared""")


def tracked_files() -> list[Path]:
    """Return the files git tracks (the copy CI runs from holds these and nothing else)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"not a git checkout: {exc}")
    return [PROJECT_ROOT / name for name in listed.decode().split("\0") if name]


def test_no_code_or_configuration_reads_a_path_outside_the_repository() -> None:
    offenders = []
    for path in tracked_files():
        if path.suffix not in CHECKED_SUFFIXES and path.name not in CHECKED_NAMES:
            continue
        if path.name == "api.json" or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line) and path.resolve() != Path(__file__).resolve():
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_bot_api_description_is_tracked_with_its_licence() -> None:
    names = {path.relative_to(PROJECT_ROOT).as_posix() for path in tracked_files()}
    for name in ("api.json", "LICENSE", "README.md"):
        assert f"telegram_emulator/bot_api_spec/{name}" in names
