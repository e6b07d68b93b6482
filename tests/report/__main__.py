"""`python -m tests.report [pytest options]`: run the security report's tests with its plugin."""

from __future__ import annotations

import sys

import pytest

from devstack import PROJECT_ROOT
from tests.report.plugin import BAD_INPUT_MODULES, FAULT_TESTS


def main(extra: list[str]) -> int:
    """Run the fault and bad-input tests with the report plugin; return pytest's exit status."""
    paths = [FAULT_TESTS, *(m for m in BAD_INPUT_MODULES if (PROJECT_ROOT / m).exists())]
    return int(pytest.main(["-p", "tests.report.plugin", "-q", *paths, *extra]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
