"""The Procfile is parsed, not duplicated, and its commands resolve to this venv."""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

import pytest

from devstack import PROJECT_ROOT
from devstack.procfile import parse_procfile, read_procfile, resolve_command


def test_the_project_procfile_has_the_contract_entries() -> None:
    entries = read_procfile()
    assert entries == {
        "release": "flask --app wsgi db upgrade",
        "web": "gunicorn wsgi:app",
        "worker": "celery -A tasks worker --loglevel=INFO",
        "bot": "python -m botrunner",
        "beat": "celery -A tasks beat",
    }


def test_parse_keeps_order_and_skips_comments() -> None:
    text = "# comment\n\nweb: gunicorn wsgi:app\nrelease:   flask db upgrade  \n"
    assert list(parse_procfile(text).items()) == [("web", "gunicorn wsgi:app"), ("release", "flask db upgrade")]


@pytest.mark.parametrize("text", ["just words\n", "web: a\nweb: b\n", ": nothing\n"])
def test_parse_refuses_malformed_files(text: str) -> None:
    with pytest.raises(ValueError):
        parse_procfile(text)


def test_resolve_uses_this_python_and_venv_scripts(tmp_path: Path) -> None:
    (tmp_path / "gunicorn").write_text("#!/bin/sh\n")
    assert resolve_command("python -m botrunner", {}) == [sys.executable, "-m", "botrunner"]
    assert resolve_command("gunicorn wsgi:app", {}, bin_dir=tmp_path) == [str(tmp_path / "gunicorn"), "wsgi:app"]
    assert resolve_command("unknown-tool x", {}, bin_dir=tmp_path) == ["unknown-tool", "x"]


def test_resolve_expands_variables_like_a_shell() -> None:
    argv = resolve_command("gunicorn -b 127.0.0.1:$PORT --name ${NAME}x", {"PORT": "9", "NAME": "n"}, Path("/nonexistent"))
    assert argv == ["gunicorn", "-b", "127.0.0.1:9", "--name", "nx"]


def test_beat_keeps_its_schedule_file_where_git_ignores_it() -> None:
    # `celery -A tasks beat` writes celerybeat-schedule* into its working directory, the project root.
    # Read .gitignore itself: CI runs from a copy of the checkout that has no .git to ask.
    patterns = [line.strip() for line in (PROJECT_ROOT / ".gitignore").read_text().splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    for name in ("celerybeat-schedule", "celerybeat-schedule.db", "celerybeat-schedule.dat"):
        assert any(fnmatch.fnmatch(name, pattern.strip("/")) for pattern in patterns), name