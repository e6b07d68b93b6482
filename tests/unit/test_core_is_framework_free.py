"""`core` must stay free of flask, celery and telegram: every process uses it."""

import ast
from pathlib import Path

import core

FORBIDDEN_TOP_LEVEL = {"flask", "flask_jwt_extended", "flask_cors", "werkzeug", "celery", "kombu", "telegram"}


def imported_top_level_modules(path: Path) -> set[str]:
    """Return the top-level package of every import in a Python file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_core_imports_no_framework():
    core_dir = Path(core.__file__).parent
    files = sorted(core_dir.rglob("*.py"))
    assert files, "core has no modules?"
    offenders = {
        str(path.relative_to(core_dir)): sorted(imported_top_level_modules(path) & FORBIDDEN_TOP_LEVEL)
        for path in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_detects_a_framework_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom flask import Flask\nimport telegram.ext\n")
    assert imported_top_level_modules(sample) & FORBIDDEN_TOP_LEVEL == {"flask", "telegram"}
