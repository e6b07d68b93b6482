"""The User-Agent parser is loaded at a process's start, not by its first login."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

FIRST_PARSE = """
import time
from core import useragents
{warm}
started = time.process_time()
useragents.describe("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
print(time.process_time() - started)
"""


def first_parse_seconds(warm: str) -> float:
    done = subprocess.run([sys.executable, "-c", FIRST_PARSE.format(warm=warm)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, check=True)
    return float(done.stdout)


def test_after_warming_up_a_first_user_agent_costs_little():
    cold = first_parse_seconds("")
    warm = first_parse_seconds("useragents.warm_up()")
    assert warm < 0.02 < cold, (warm, cold)
