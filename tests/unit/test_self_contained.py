"""The repository stands alone: a user's clone has nothing beside it, so nothing may point outside it."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Files that run or configure something; prose (README, docs) may name other projects freely.
CHECKED_SUFFIXES = {".py", ".sh", ".ini", ".cfg", ".toml", ".js", ".html", ".txt", ".json"}
CHECKED_NAMES = {"Makefile", "Procfile", "run", ".env.example"}
# What a run leaves in the checkout (.gitignore), not part of the project.
NOT_THE_PROJECT = {".git", ".venv", ".devstack", "test-artifacts", "__pycache__", ".pytest_cache", "node_modules"}
# A path climbing out of the project root, or the reading-material folder beside it.
OUTSIDE = re.compile(r"""\.\./shared|shared/telegram-bot-api-spec|["']shared["']\s*/|parent\s*/\s*["']shared""")


def project_files() -> list[Path]:
    """Return the project's own files (CI runs from a copy holding these alone, without .git)."""
    found = []
    for path in PROJECT_ROOT.rglob("*"):
        relative = path.relative_to(PROJECT_ROOT)
        if path.is_file() and not NOT_THE_PROJECT.intersection(relative.parts):
            found.append(path)
    return found


def test_no_code_or_configuration_reads_a_path_outside_the_repository() -> None:
    offenders = []
    for path in project_files():
        if path.suffix not in CHECKED_SUFFIXES and path.name not in CHECKED_NAMES or path.name == "api.json":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line) and path.resolve() != Path(__file__).resolve():
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_bot_api_description_comes_with_its_licence_and_source() -> None:
    folder = PROJECT_ROOT / "telegram_emulator" / "bot_api_spec"
    assert (folder / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert "160fd99" in (folder / "README.md").read_text(encoding="utf-8")
