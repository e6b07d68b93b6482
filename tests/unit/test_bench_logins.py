"""The login benchmark's own bookkeeping: the rate and machine load it reports."""

from __future__ import annotations

import math
import sys

import pytest

from bench import logins


def test_a_run_describes_its_rate_and_load() -> None:
    run = logins.LoginRun(logins=[object()] * 30, errors=[], seconds=4.0, cpu_busy=0.416)  # type: ignore[list-item]
    assert run.describe() == "7.5 logins/s, CPU 42% busy"
    assert "nan logins/s" in logins.LoginRun(logins=[], errors=[]).describe()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_cpu_times_count_up_and_busy_is_part_of_the_total() -> None:
    busy_before, total_before = logins.cpu_times()
    sum(i * i for i in range(300_000))  # some CPU work, so the counters move
    busy_after, total_after = logins.cpu_times()
    assert 0 <= busy_before <= total_before and 0 <= busy_after <= total_after
    assert total_after >= total_before and busy_after >= busy_before
    assert not math.isnan(busy_after)
