"""The benchmark's pure helpers: percentiles, verdicts against goals, the table, wrk's summary."""

import math

import pytest

from bench.load import parse_wrk_output
from bench.stats import Figure, format_table, format_value, percentile, ratio

WRK_SUMMARY = """Running 8s test @ http://127.0.0.1:40123
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    10.21ms    3.02ms  48.11ms   80.00%
    Req/Sec     3.13k   210.00     3.60k    70.00%
  50000 requests in 8.00s, 9.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   6250.00
Transfer/sec:      1.14MB
"""


def test_percentile_uses_nearest_rank() -> None:
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([5.0], 0.99) == 5.0
    assert percentile([3, 1, 2], 0.0) == 1  # unsorted input, lowest rank


def test_percentile_refuses_nothing_and_bad_fractions() -> None:
    with pytest.raises(ValueError):
        percentile([], 0.5)
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


def test_ratio_of_nothing_measured_is_nan() -> None:
    assert ratio(3, 4) == 0.75
    assert math.isnan(ratio(3, 0))


def test_verdicts_against_goals() -> None:
    assert Figure("ratio", 0.7, at_least=0.6).verdict == "PASS"
    assert Figure("ratio", 0.5, at_least=0.6).verdict == "MISS"
    assert Figure("share", 0.1, at_most=0.1).verdict == "PASS"
    assert Figure("share", 0.2, at_most=0.1).verdict == "MISS"
    assert Figure("share", math.nan, at_most=0.1).verdict == "MISS"  # not measured is not a pass
    assert Figure("throughput", 1234.0, "req/s").verdict == "-"


def test_values_are_written_with_sensible_precision() -> None:
    assert format_value(12345.6, "req/s") == "12,346 req/s"
    assert format_value(41.23, "ms") == "41.2 ms"
    assert format_value(0.734) == "0.73"
    assert format_value(math.nan, "ms") == "n/a ms"


def test_table_aligns_columns_with_goal_and_verdict() -> None:
    table = format_table([
        Figure("status / healthz", 0.72, at_least=0.6, goal_text=">= 0.6"),
        Figure("/healthz throughput", 9000.0, "req/s", note="no errors"),
    ]).splitlines()
    assert table[0].split() == ["figure", "value", "goal", "result", "note"]
    assert set(table[1]) <= {"-", " "}
    assert "PASS" in table[2] and "0.72" in table[2]
    assert "9,000 req/s" in table[3] and table[3].rstrip().endswith("no errors")
    # Every row's value column starts at the same offset.
    offset = table[0].index("value")
    assert table[2][offset:].startswith("0.72") and table[3][offset:].startswith("9,000")


def test_wrk_summary_is_read_with_every_kind_of_error() -> None:
    result = parse_wrk_output(WRK_SUMMARY)
    assert (result.client, result.requests, result.seconds, result.errors) == ("wrk", 50000, 8.0, 10)
    assert result.per_second == pytest.approx((50000 - 10) / 8.0)


def test_a_failed_check_misses_whatever_the_value() -> None:
    figure = Figure("held", 6000, at_least=5000, failed_check="server unresponsive")
    assert figure.verdict == "MISS"
    assert "server unresponsive" in format_table([figure])
