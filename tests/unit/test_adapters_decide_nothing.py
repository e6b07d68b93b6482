"""The web app, the worker and the bot translate and render; `core` decides (DESIGN.md, "one home").

A rule decided again in an adapter drifts from core's: that is how "which logins need a
prompt" came to be answered four ways. So adapters hold no SQL that changes or reads domain
tables, and never read the session and user columns those rules are made of.
"""

import re
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = ("webapp", "tasks", "botrunner")
DOMAIN_TABLES = r"(users|auth_sessions|token_families)"
DOMAIN_SQL = re.compile(rf"\b(UPDATE|INSERT INTO|DELETE FROM|FROM)\s+{DOMAIN_TABLES}\b")
# Columns only core's rules read: a subscript or a SQL name of one in an adapter is a rule decided there.
RULE_COLUMNS = (
    "prompt_withheld",
    "prompt_error",
    "deep_link_opened_by",
    "match_cooldown_until",
    "prompts_paused_until",
    "overdue",
)
RULE_COLUMN_READ = re.compile(r"""\[\s*["'](%s)["']\s*\]""" % "|".join(RULE_COLUMNS))


def adapter_files() -> list[Path]:
    return sorted(path for package in ADAPTERS for path in (PROJECT_ROOT / package).rglob("*.py"))


def offences(text: str) -> list[str]:
    """Return what in a module's text decides a domain question."""
    found = [f"SQL: {m.group(0)}" for m in DOMAIN_SQL.finditer(text)]
    found += [f"reads {m.group(1)}" for m in RULE_COLUMN_READ.finditer(text)]
    return found


def test_adapters_hold_no_domain_sql_and_read_no_rule_columns():
    files = adapter_files()
    assert files, "no adapter modules found?"
    found = {str(path.relative_to(PROJECT_ROOT)): offences(path.read_text(encoding="utf-8")) for path in files}
    assert {name: what for name, what in found.items() if what} == {}


@pytest.mark.parametrize(
    "sample",
    [
        'cur.execute("UPDATE auth_sessions SET status = %s")',
        'cur.execute("SELECT * FROM users WHERE id = %s")',
        'if session["prompt_withheld"] is not None: return None',
        "if row['overdue']: expire()",
    ],
)
def test_the_check_detects_a_rule_decided_in_an_adapter(sample):
    assert offences(sample)
