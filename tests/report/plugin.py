"""The security report: a pytest plugin that tallies what the run proved, printed as tables.

`make security-report` (`python -m tests.report`) runs the fault tests and the bad-input tests
with this plugin and prints three tables at the end: the failures caused for real and survived (tests marked
`@pytest.mark.fault(...)`), the bad inputs tried (every case of the bad-input modules below),
and the invariants checked after each fault test (tests/faults/invariants.py). A copy goes to
test-artifacts/security-report.md.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devstack import PROJECT_ROOT
from tests.report import findings

FAULT_TESTS = "tests/faults"
# Where the bad inputs are tried: every case of every test in these modules is one row's count.
BAD_INPUT_MODULES = (
    "tests/integration/test_web_bad_input.py",
    "tests/integration/test_web_tokens.py",
    "tests/integration/test_web_errors.py",
    "tests/integration/test_web_limits.py",
    "tests/integration/test_webhook.py",
    "tests/e2e/test_bot_refusals.py",
    "tests/e2e/test_schemathesis.py",
)
REPORT_PATH = PROJECT_ROOT / "test-artifacts" / "security-report.md"


@dataclass
class Outcome:
    """What happened to one test: its phases' results and how long its call took."""

    passed: bool = True
    skipped: bool = False
    seconds: float = 0.0


@dataclass
class Tally:
    """Outcomes gathered during the run, by test node id."""

    outcomes: dict[str, Outcome] = field(default_factory=lambda: defaultdict(Outcome))
    faults: dict[str, str] = field(default_factory=dict)  # node id -> fault name
    bad_inputs: dict[str, str] = field(default_factory=dict)  # node id -> what was tried


TALLY = pytest.StashKey[Tally]()
# The run's tally, for the hook that is given only a report.
_tally: Tally | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Start an empty tally and register the `fault` marker (also when tests/faults isn't collected)."""
    global _tally
    _tally = config.stash[TALLY] = Tally()
    config.addinivalue_line("markers", "fault(name): the failure this test causes for real (security report)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Note which collected tests cause a fault and which try bad inputs."""
    tally = config.stash[TALLY]
    for item in items:
        marker = item.get_closest_marker("fault")
        if marker is not None:
            tally.faults[item.nodeid] = str(marker.args[0])
        elif item.nodeid.split("::")[0] in BAD_INPUT_MODULES:
            tally.bad_inputs[item.nodeid] = describe(item)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record each phase's result (a failing teardown, where the invariants run, fails the test)."""
    if _tally is None:
        return
    outcome = _tally.outcomes[report.nodeid]
    if report.failed:
        outcome.passed = False
    if report.skipped:
        outcome.skipped = True
    if report.when == "call":
        outcome.seconds = report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Print the three tables and write them to test-artifacts/security-report.md."""
    tally = config.stash[TALLY]
    sections = [
        ("Failures caused for real, and survived", ("failure", "result", "seconds"), fault_rows(tally)),
        ("Bad inputs tried", ("what was tried", "cases", "result"), bad_input_rows(tally)),
        ("Invariants checked after every fault test", ("invariant", "checks passed", "items looked at"),
         invariant_rows(config)),
    ]
    lines: list[str] = []
    for title, header, rows in sections:
        lines += ["", f"## {title}", ""] + table(header, rows)
    terminalreporter.write_sep("=", "security report")
    for line in lines:
        terminalreporter.write_line(line)
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    REPORT_PATH.write_text("# Security report\n" + "\n".join(lines) + "\n", encoding="utf-8")
    terminalreporter.write_line(f"\n(written to {REPORT_PATH.relative_to(PROJECT_ROOT)})")


def fault_rows(tally: Tally) -> list[tuple[str, ...]]:
    """Return one row per fault test: the fault, whether it was survived, the seconds it took."""
    rows = []
    for nodeid, name in tally.faults.items():
        outcome = tally.outcomes.get(nodeid)
        rows.append((name, verdict(outcome), f"{outcome.seconds:.1f}" if outcome else "-"))
    return rows


def bad_input_rows(tally: Tally) -> list[tuple[str, ...]]:
    """Return one row per bad-input test function: what it tries, its cases, how many passed."""
    groups: dict[str, list[Outcome | None]] = defaultdict(list)
    for nodeid, what in tally.bad_inputs.items():
        groups[what].append(tally.outcomes.get(nodeid))
    rows = []
    for what, outcomes in groups.items():
        ran = [o for o in outcomes if o is not None and not o.skipped]
        passed = sum(o.passed for o in ran)
        result = "passed" if ran and passed == len(ran) else f"{len(ran) - passed} FAILED"
        rows.append((what, str(len(outcomes)), result if ran else "not run"))
    return rows


def invariant_rows(config: pytest.Config) -> list[tuple[str, ...]]:
    """Return one row per invariant: how many times it held, and how many things it looked at."""
    return [(name, str(runs), str(items)) for name, (runs, items) in findings.invariant_checks(config).items()]


def verdict(outcome: Outcome | None) -> str:
    """Say how a test ended, for a table cell."""
    if outcome is None:
        return "not run"
    if outcome.skipped:
        return "skipped"
    return "survived" if outcome.passed else "FAILED"


def describe(item: pytest.Item) -> str:
    """Turn a test's function name into a phrase: test_a_body_over_16_kb_is_a_413 -> "a body over 16 kb is a 413"."""
    name = getattr(item, "originalname", None) or item.name.split("[")[0]
    module = Path(str(item.path)).stem.removeprefix("test_").replace("_", " ")
    return f"{module}: {re.sub(r'^test_', '', name).replace('_', ' ')}"


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Return a Markdown table (readable as plain text too)."""
    if not rows:
        return ["(none in this run)"]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows]
