"""Pure helpers of the benchmark: percentiles, figures with goals, and the results table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the `fraction` (0..1) percentile of `values` by the nearest-rank method."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= fraction <= 1:
        raise ValueError("fraction must be within 0..1")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def ratio(numerator: float, denominator: float) -> float:
    """Return numerator / denominator, or NaN when the denominator is 0 (a run that measured nothing)."""
    return numerator / denominator if denominator else math.nan


@dataclass(frozen=True)
class Figure:
    """One measured figure: its value and unit, and a goal when the issue sets one.

    `at_least` / `at_most` make the verdict: PASS, MISS, or "-" for figures shown for context;
    `failed_check` (why) makes it MISS whatever the value, when a check behind the figure failed.
    """

    name: str
    value: float
    unit: str = ""
    at_least: float | None = None
    at_most: float | None = None
    goal_text: str = ""
    note: str = ""
    failed_check: str = ""

    @property
    def verdict(self) -> str:
        """Return PASS or MISS against the goal, "-" when there is none, MISS for a value not measured."""
        if self.at_least is None and self.at_most is None:
            return "-"
        if math.isnan(self.value) or self.failed_check:
            return "MISS"
        if self.at_least is not None and self.value < self.at_least:
            return "MISS"
        if self.at_most is not None and self.value > self.at_most:
            return "MISS"
        return "PASS"


def format_value(value: float, unit: str = "") -> str:
    """Write a value with sensible precision: 12,345 req/s, 0.73, 41.2 ms."""
    if math.isnan(value):
        text = "n/a"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip()


def format_table(figures: Sequence[Figure]) -> str:
    """Return the figures as an aligned text table: figure | value | goal | result | note."""
    header = ("figure", "value", "goal", "result", "note")
    rows = [(f.name, format_value(f.value, f.unit), f.goal_text or "-", f.verdict,
             "; ".join(x for x in (f.failed_check, f.note) if x)) for f in figures]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    separator = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), separator, *(line(row) for row in rows)])
