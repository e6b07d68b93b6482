"""What the security report tallies, kept on the pytest config while the tests run."""

from __future__ import annotations

from collections import Counter

import pytest

INVARIANT_CHECKS = pytest.StashKey[Counter]()


def record_invariant(config: pytest.Config, name: str, checked: int) -> None:
    """Count one passed run of an invariant check and the things it looked at."""
    counts = config.stash.setdefault(INVARIANT_CHECKS, Counter())
    counts[(name, "runs")] += 1
    counts[(name, "items")] += checked


def invariant_checks(config: pytest.Config) -> dict[str, tuple[int, int]]:
    """Return {invariant: (passed runs, things checked)} recorded so far."""
    counts = config.stash.get(INVARIANT_CHECKS, Counter())
    names = sorted({name for name, _ in counts})
    return {name: (counts[(name, "runs")], counts[(name, "items")]) for name in names}
