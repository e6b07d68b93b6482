"""Whether a login's tokens may be used or refreshed is decided in core/token_families only."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = ("webapp", "tasks", "botrunner")
TOKEN_FAMILY_SQL = re.compile(r"\b(FROM|UPDATE|INTO|JOIN)\s+token_families\b", re.IGNORECASE)


def test_no_adapter_reads_or_writes_token_families_itself():
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for package in ADAPTERS
        for path in (PROJECT_ROOT / package).rglob("*.py")
        if TOKEN_FAMILY_SQL.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "ask core/token_families instead"


def test_the_web_apps_token_check_asks_core():
    source = (PROJECT_ROOT / "webapp" / "jwt_tokens.py").read_text(encoding="utf-8")
    assert "token_families.is_live_for(" in source
