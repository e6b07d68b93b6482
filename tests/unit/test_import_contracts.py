"""The architecture's import rules (.importlinter), kept by import-linter, plus what it can't see.

`core` imports no framework (flask, celery, telegram, gevent, hiredis) and no adapter; the
worker and the bot never import the web app or each other; core's modules form no cycle.
"""

from __future__ import annotations

import ast
import configparser
import shutil
import subprocess
import sys
from pathlib import Path

from devstack import PROJECT_ROOT

def root_packages() -> list[str]:
    """Return our packages as .importlinter names them (its root_packages)."""
    config = configparser.ConfigParser()
    config.read(PROJECT_ROOT / ".importlinter")
    return config["importlinter"]["root_packages"].split()


OUR_PACKAGES = root_packages()
# Never write import-linter's cache into the repository.
LINT_IMPORTS = [
    sys.executable,
    "-c",
    "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
    "--no-cache",
]


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with `project`'s .importlinter on `project`'s packages."""
    return subprocess.run(LINT_IMPORTS, cwd=project, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_are_kept():
    done = lint_imports(PROJECT_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_framework_import_in_core_breaks_a_contract(tmp_path):
    for package in OUR_PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "core" / "fast_path.py").write_text("import gevent\nfrom webapp import poll_transport\n")
    (tmp_path / "webapp" / "poll_transport.py").write_text("")
    shutil.copy(PROJECT_ROOT / ".importlinter", tmp_path / ".importlinter")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    assert "core.fast_path -> gevent" in done.stdout
    assert "core.fast_path -> webapp.poll_transport" in done.stdout


def private_third_party_imports(path: Path) -> list[str]:
    """Return the imports in a Python file that reach into a private module or name of another package."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules, names = [alias.name for alias in node.names], []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules, names = [node.module], [alias.name for alias in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] in OUR_PACKAGES:
                continue
            if any(part.startswith("_") and not part.startswith("__") for part in parts) or any(
                name.startswith("_") and not name.startswith("__") for name in names
            ):
                found.append(f"{module}: {', '.join(names) or '(module)'}")
    return found


def test_no_package_of_ours_imports_another_packages_private_modules():
    # import-linter sees modules, not whether they are private: `redis._parsers` would break on an upgrade.
    offenders = {
        str(path.relative_to(PROJECT_ROOT)): imports
        for package in ("core", "webapp", "tasks", "botrunner")
        for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
        if (imports := private_third_party_imports(path))
    }
    assert offenders == {}


def test_the_private_import_check_sees_one(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom redis._parsers import _HiredisParser\nfrom redis.connection import parse_url\n")
    assert private_third_party_imports(sample) == ["redis._parsers: _HiredisParser"]
